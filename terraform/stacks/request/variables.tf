variable "request_id" {
  description = "Identity of the hosting request (the request file's name): one DNS label."
  type        = string

  validation {
    condition     = can(regex("^[a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?$", var.request_id))
    error_message = "request_id must be one DNS label: 1 to 63 characters, lowercase a-z, 0-9 and '-', not starting or ending with '-'."
  }
}

variable "opd_code" {
  description = "Code of the OPD (agency) that owns the request, e.g. DINKES; tagged on the VM for the quota check."
  type        = string

  validation {
    condition     = can(regex("^[A-Z][A-Z0-9]{1,15}$", var.opd_code))
    error_message = "opd_code must be 2 to 16 characters: an upper case letter, then upper case letters or digits (e.g. DINKES)."
  }
}

variable "environment" {
  description = "Environment of the request: \"lab\" or \"production\"."
  type        = string

  validation {
    condition     = contains(["lab", "production"], var.environment)
    error_message = "environment must be \"lab\" or \"production\"."
  }
}

variable "vcpu" {
  description = "vCPU cores requested."
  type        = number

  validation {
    condition     = var.vcpu == floor(var.vcpu) && var.vcpu >= 1 && var.vcpu <= 64
    error_message = "vcpu must be a whole number from 1 to 64."
  }
}

variable "memory_mb" {
  description = "Memory requested, in MiB."
  type        = number

  validation {
    condition     = var.memory_mb == floor(var.memory_mb) && var.memory_mb >= 512 && var.memory_mb <= 524288
    error_message = "memory_mb must be a whole number of MiB from 512 to 524288."
  }
}

variable "disk_gb" {
  description = "System disk requested, in GiB."
  type        = number

  validation {
    condition     = var.disk_gb == floor(var.disk_gb) && var.disk_gb >= 10 && var.disk_gb <= 4096
    error_message = "disk_gb must be a whole number of GiB from 10 to 4096."
  }
}

variable "os_template" {
  description = "The template the request names, resolved by the pipeline to a VMID and node: name, vm_id, node_name."
  type = object({
    name      = string
    vm_id     = number
    node_name = string
  })

  validation {
    condition     = can(regex("^[a-z0-9][a-z0-9.-]{0,62}$", var.os_template.name))
    error_message = "os_template.name must be a template name such as debian-12-cloudinit."
  }
}

variable "vmid" {
  description = "VMID allocated for the request by the pipeline's allocator."
  type        = number

  validation {
    condition     = var.vmid == floor(var.vmid) && var.vmid >= 100 && var.vmid <= 999999999
    error_message = "vmid must be a whole number from 100 to 999999999."
  }
}

variable "node_name" {
  description = "Proxmox node chosen for the VM by the capacity analysis."
  type        = string
}

variable "network" {
  description = "Address allocated for the request and the pool's settings: ipv4, prefix, gateway, dns_servers, optional bridge, vlan_id and dns_domain."
  type = object({
    ipv4        = string
    prefix      = number
    gateway     = string
    dns_servers = list(string)
    bridge      = optional(string, "vmbr0")
    vlan_id     = optional(number)
    dns_domain  = optional(string)
  })
}

variable "ssh_public_keys" {
  description = "OpenSSH public keys of the department's administrators."
  type        = list(string)
}

variable "admin_user" {
  description = "Login cloud-init creates for the administrators."
  type        = string
  default     = "sopadmin"
}

variable "agent_timeout" {
  description = "How long to wait for the guest agent to report the address, as a duration (e.g. 5m)."
  type        = string
  default     = "5m"
}

variable "protection" {
  description = "Proxmox protection flag of the VM (PVE refuses to remove a protected VM)."
  type        = bool
  default     = true
}
