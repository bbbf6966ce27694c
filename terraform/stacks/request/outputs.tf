output "vmid" {
  description = "VMID of the request's VM."
  value       = module.vm.vmid
}

output "node" {
  description = "Proxmox node the VM runs on."
  value       = module.vm.node
}

output "address" {
  description = "IPv4 address of the VM."
  value       = module.vm.address
}

output "agent_ipv4_addresses" {
  description = "IPv4 addresses the guest agent reported."
  value       = module.vm.agent_ipv4_addresses
}

output "request_tag" {
  description = "Proxmox tag that marks the VM as this request's."
  value       = module.vm.request_tag
}
