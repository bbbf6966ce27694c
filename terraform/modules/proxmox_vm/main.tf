locals {
  # Tags carry the request id: a re-run finds (and adopts) the VM of its request by VMID and tag.
  # The OPD tag lets the analysis (step 6) sum what an OPD already holds against its quota.
  request_tag = "sop-req-${var.request_id}"
  opd_tag     = "sop-opd-${lower(var.opd_code)}"
  tags        = sort(distinct(concat(["sop-pipeline", local.request_tag, local.opd_tag, "env-${var.environment}"], var.extra_tags)))
  description = "Managed by sop-pipeline. Request: ${var.request_id}. Environment: ${var.environment}."
}

resource "proxmox_virtual_environment_vm" "this" {
  name        = var.request_id
  description = local.description
  tags        = local.tags
  node_name   = var.node_name
  vm_id       = var.vm_id
  on_boot     = true
  started     = true
  protection  = var.protection

  clone {
    vm_id     = var.template.vm_id
    node_name = var.template.node_name
    full      = true
    retries   = 3
  }

  agent {
    enabled = true
    timeout = var.agent_timeout

    wait_for_ip {
      ipv4 = true
    }
  }

  cpu {
    cores = var.cores
    type  = var.cpu_type
  }

  memory {
    dedicated = var.memory_mb
  }

  disk {
    datastore_id = var.datastore_id
    interface    = "scsi0"
    size         = var.disk_gb
    discard      = "on"
  }

  network_device {
    bridge  = var.network.bridge
    model   = "virtio"
    vlan_id = var.network.vlan_id
  }

  operating_system {
    type = "l26"
  }

  initialization {
    datastore_id = var.datastore_id
    interface    = "ide2"

    ip_config {
      ipv4 {
        address = "${var.network.ipv4}/${var.network.prefix}"
        gateway = var.network.gateway
      }
    }

    dns {
      servers = var.network.dns_servers
      domain  = var.network.dns_domain
    }

    user_account {
      username = var.admin_user
      keys     = var.ssh_public_keys
    }
  }

  lifecycle {
    # The clone source matters only at creation. A VM adopted with `terraform import` after a
    # killed apply has no clone block in state; without this, the plan would replace it.
    ignore_changes = [clone]
    # A hosting is destroyed only by a signed retirement (kind: pensiun, docs/retirement.md):
    # prevent_destroy must be a literal, so step 8 of a retirement cycle writes an override
    # file (_sop_retirement_override.tf) into the working copy after both gates verify;
    # Terraform merges an override's lifecycle block argument by argument.
    prevent_destroy = true
  }
}
