output "vmid" {
  description = "VMID of the VM."
  value       = proxmox_virtual_environment_vm.this.vm_id
}

output "node" {
  description = "Proxmox node the VM runs on."
  value       = proxmox_virtual_environment_vm.this.node_name
}

output "address" {
  description = "IPv4 address configured for the VM through cloud-init (what DNS will point at)."
  value       = var.network.ipv4
}

output "agent_ipv4_addresses" {
  description = "Global IPv4 addresses the guest agent reported, all interfaces, loopback left out."
  value       = [for a in flatten(proxmox_virtual_environment_vm.this.ipv4_addresses) : a if !startswith(a, "127.")]
}

output "request_tag" {
  description = "The Proxmox tag that marks the VM as this request's."
  value       = local.request_tag
}

output "opd_tag" {
  description = "The Proxmox tag that marks the VM as its OPD's (counted against the OPD's quota)."
  value       = local.opd_tag
}
