# One hosting request: one VM. Values arrive as *.auto.tfvars.json written by the pipeline
# (json.dumps), never as HCL built from strings.
module "vm" {
  source = "../../modules/proxmox_vm"

  request_id      = var.request_id
  opd_code        = var.opd_code
  environment     = var.environment
  node_name       = var.node_name
  vm_id           = var.vmid
  template        = { vm_id = var.os_template.vm_id, node_name = var.os_template.node_name }
  cores           = var.vcpu
  memory_mb       = var.memory_mb
  disk_gb         = var.disk_gb
  network         = var.network
  admin_user      = var.admin_user
  ssh_public_keys = var.ssh_public_keys
  agent_timeout   = var.agent_timeout
  protection      = var.protection
  extra_tags      = ["tmpl-${var.os_template.name}"]
}
