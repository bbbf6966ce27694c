variable "request_id" {
  description = "Identity of the hosting request: one DNS label (lowercase letters, digits, hyphens), used as the VM name and in its tags."
  type        = string

  validation {
    condition     = can(regex("^[a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?$", var.request_id))
    error_message = "request_id must be one DNS label: 1 to 63 characters, lowercase a-z, 0-9 and '-', not starting or ending with '-'."
  }
}

variable "opd_code" {
  description = "Code of the OPD (agency) that owns the request, e.g. DINKES: upper case letter, then 1 to 15 upper case letters or digits. Tagged on the VM (lower case) so the analysis can sum the OPD's quota use."
  type        = string

  validation {
    condition     = can(regex("^[A-Z][A-Z0-9]{1,15}$", var.opd_code))
    error_message = "opd_code must be 2 to 16 characters: an upper case letter, then upper case letters or digits (e.g. DINKES)."
  }
}

variable "environment" {
  description = "Environment the VM belongs to: \"lab\" or \"production\"."
  type        = string

  validation {
    condition     = contains(["lab", "production"], var.environment)
    error_message = "environment must be \"lab\" or \"production\"."
  }
}

variable "node_name" {
  description = "Proxmox VE node that runs the VM (chosen by the capacity analysis)."
  type        = string

  validation {
    condition     = can(regex("^[a-zA-Z0-9]([a-zA-Z0-9-]{0,61}[a-zA-Z0-9])?$", var.node_name))
    error_message = "node_name must be a Proxmox node name: letters, digits and '-', at most 63 characters."
  }
}

variable "vm_id" {
  description = "VMID allocated by the pipeline's allocator (never the provider's next free id)."
  type        = number

  validation {
    condition     = var.vm_id == floor(var.vm_id) && var.vm_id >= 100 && var.vm_id <= 999999999
    error_message = "vm_id must be a whole number from 100 to 999999999."
  }
}

variable "template" {
  description = "The cloud-init template to clone: its VMID and the node that holds it."
  type = object({
    vm_id     = number
    node_name = string
  })

  validation {
    condition     = var.template.vm_id == floor(var.template.vm_id) && var.template.vm_id >= 100 && var.template.vm_id <= 999999999
    error_message = "template.vm_id must be a whole number from 100 to 999999999."
  }
}

variable "cores" {
  description = "Number of vCPU cores."
  type        = number

  validation {
    condition     = var.cores == floor(var.cores) && var.cores >= 1 && var.cores <= 64
    error_message = "cores must be a whole number from 1 to 64."
  }
}

variable "memory_mb" {
  description = "Memory in MiB."
  type        = number

  validation {
    condition     = var.memory_mb == floor(var.memory_mb) && var.memory_mb >= 512 && var.memory_mb <= 524288
    error_message = "memory_mb must be a whole number of MiB from 512 to 524288."
  }
}

variable "disk_gb" {
  description = "Size of the system disk (scsi0) in GiB; the template's disk is grown to it."
  type        = number

  validation {
    condition     = var.disk_gb == floor(var.disk_gb) && var.disk_gb >= 10 && var.disk_gb <= 4096
    error_message = "disk_gb must be a whole number of GiB from 10 to 4096."
  }
}

variable "datastore_id" {
  description = "Storage for the cloned disk and the cloud-init drive."
  type        = string
  default     = "local-lvm"

  validation {
    condition     = can(regex("^[a-zA-Z][a-zA-Z0-9_.-]*$", var.datastore_id))
    error_message = "datastore_id must be a Proxmox storage id: a letter, then letters, digits, '_', '.' or '-'."
  }
}

variable "network" {
  description = "The VM's one network interface: bridge, optional VLAN, static IPv4 address with prefix length, gateway and resolvers, as the allocator handed them out."
  type = object({
    bridge      = optional(string, "vmbr0")
    vlan_id     = optional(number)
    ipv4        = string
    prefix      = number
    gateway     = string
    dns_servers = list(string)
    dns_domain  = optional(string)
  })

  validation {
    condition     = can(regex("^((25[0-5]|2[0-4][0-9]|1?[0-9]?[0-9])\\.){3}(25[0-5]|2[0-4][0-9]|1?[0-9]?[0-9])$", var.network.ipv4))
    error_message = "network.ipv4 must be a dotted-quad IPv4 address without prefix, e.g. 10.99.0.100."
  }

  validation {
    condition     = var.network.prefix == floor(var.network.prefix) && var.network.prefix >= 8 && var.network.prefix <= 30
    error_message = "network.prefix must be a whole number from 8 to 30."
  }

  validation {
    condition     = try(cidrhost("${var.network.gateway}/${var.network.prefix}", 0) == cidrhost("${var.network.ipv4}/${var.network.prefix}", 0) && var.network.gateway != var.network.ipv4, false)
    error_message = "network.gateway must be an IPv4 address in the same subnet as network.ipv4, and differ from it."
  }

  validation {
    condition     = length(var.network.dns_servers) >= 1 && length(var.network.dns_servers) <= 3 && alltrue([for s in var.network.dns_servers : can(cidrhost("${s}/32", 0))])
    error_message = "network.dns_servers must list 1 to 3 IPv4 addresses."
  }

  validation {
    condition     = var.network.vlan_id == null ? true : (var.network.vlan_id == floor(var.network.vlan_id) && var.network.vlan_id >= 1 && var.network.vlan_id <= 4094)
    error_message = "network.vlan_id must be null or a whole number from 1 to 4094."
  }

  validation {
    condition     = can(regex("^[a-zA-Z][a-zA-Z0-9_]{0,14}$", var.network.bridge))
    error_message = "network.bridge must be a Linux bridge name such as vmbr0."
  }
}

variable "admin_user" {
  description = "Login created by cloud-init for the department's administrators."
  type        = string
  default     = "sopadmin"

  validation {
    condition     = can(regex("^[a-z_][a-z0-9_-]{0,31}$", var.admin_user))
    error_message = "admin_user must be a POSIX user name: lowercase letter or '_', then up to 31 of a-z, 0-9, '_' or '-'."
  }
}

variable "ssh_public_keys" {
  description = "OpenSSH public keys of the administrators, one per entry."
  type        = list(string)

  validation {
    condition     = length(var.ssh_public_keys) >= 1 && alltrue([for k in var.ssh_public_keys : can(regex("^(ssh-ed25519|ecdsa-sha2-nistp(256|384|521)|sk-ssh-ed25519@openssh\\.com|ssh-rsa) [A-Za-z0-9+/]+={0,3}( [^\\r\\n]*)?$", k))])
    error_message = "ssh_public_keys must hold at least one OpenSSH public key on one line each (ssh-ed25519, ecdsa-sha2-*, sk-ssh-ed25519 or ssh-rsa)."
  }
}

variable "cpu_type" {
  description = "QEMU CPU model."
  type        = string
  default     = "x86-64-v2-AES"

  validation {
    condition     = can(regex("^[a-zA-Z0-9_.-]+$", var.cpu_type))
    error_message = "cpu_type must be a QEMU CPU model name such as x86-64-v2-AES or host."
  }
}

variable "agent_timeout" {
  description = "How long the provider waits for the guest agent to report an address after start, as a Go duration (e.g. 5m)."
  type        = string
  default     = "5m"

  validation {
    condition     = can(regex("^[0-9]+(s|m|h)$", var.agent_timeout))
    error_message = "agent_timeout must be a duration such as 90s, 5m or 1h."
  }
}

variable "protection" {
  description = "Proxmox protection flag: PVE refuses to remove the VM or its disks while it is set. On for every hosting; lifted through the API only by a signed retirement. sop drift reports a change of it."
  type        = bool
  default     = true
}

variable "extra_tags" {
  description = "Additional Proxmox tags (lowercase letters, digits, '-', '_', '.')."
  type        = list(string)
  default     = []

  validation {
    condition     = alltrue([for t in var.extra_tags : can(regex("^[a-z0-9_][a-z0-9_.-]{0,62}$", t))])
    error_message = "extra_tags entries must be lowercase letters, digits, '_', '.' or '-', starting with a letter, digit or '_'."
  }
}
