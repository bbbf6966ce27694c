# Plan-mode tests: no API call is made (the provider's configure and a create plan need none).
# Each validation block has a run that expects it to fail.

provider "proxmox" {
  endpoint  = "https://127.0.0.1:9/"
  api_token = "root@pam!plan=00000000-0000-0000-0000-000000000000"
}

variables {
  request_id  = "dinkes-simpus"
  opd_code    = "DINKES"
  environment = "lab"
  node_name   = "pve1"
  vm_id       = 1000
  template    = { vm_id = 9000, node_name = "pve1" }
  cores       = 2
  memory_mb   = 2048
  disk_gb     = 20
  network = {
    ipv4        = "10.99.0.100"
    prefix      = 24
    gateway     = "10.99.0.1"
    dns_servers = ["10.99.0.2"]
  }
  ssh_public_keys = ["ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIEi2JptnezdYNyec0JtsKltgffUiJICpRkUS4LHB1m0 admin@sop"]
}

run "valid_request_plans_one_vm" {
  command = plan

  assert {
    condition     = proxmox_virtual_environment_vm.this.vm_id == 1000
    error_message = "the VM must use the allocated VMID"
  }
  assert {
    condition     = contains(proxmox_virtual_environment_vm.this.tags, "sop-req-dinkes-simpus")
    error_message = "the VM must be tagged with its request id"
  }
  assert {
    condition     = contains(proxmox_virtual_environment_vm.this.tags, "sop-opd-dinkes")
    error_message = "the VM must be tagged with its OPD code in lower case"
  }
  assert {
    condition     = proxmox_virtual_environment_vm.this.initialization[0].ip_config[0].ipv4[0].address == "10.99.0.100/24"
    error_message = "ipconfig0 must carry the allocated address and prefix"
  }
  assert {
    condition     = proxmox_virtual_environment_vm.this.agent[0].enabled
    error_message = "the guest agent must be on"
  }
  assert {
    condition     = output.address == "10.99.0.100"
    error_message = "the address output must be the allocated address"
  }
}

run "request_id_must_be_a_dns_label" {
  command = plan
  variables {
    request_id = "Dinkes_Simpus"
  }
  expect_failures = [var.request_id]
}

run "request_id_refuses_hcl_interpolation" {
  command = plan
  variables {
    request_id = "x$${file(\"/etc/passwd\")}"
  }
  expect_failures = [var.request_id]
}

run "opd_code_is_an_opd_code" {
  command = plan
  variables {
    opd_code = "dinkes"
  }
  expect_failures = [var.opd_code]
}

run "opd_code_refuses_tag_separators" {
  command = plan
  variables {
    opd_code = "DINKES;ENV-PRODUCTION"
  }
  expect_failures = [var.opd_code]
}

run "environment_is_lab_or_production" {
  command = plan
  variables {
    environment = "staging"
  }
  expect_failures = [var.environment]
}

run "node_name_is_a_node_name" {
  command = plan
  variables {
    node_name = "pve1;reboot"
  }
  expect_failures = [var.node_name]
}

run "vm_id_in_range" {
  command = plan
  variables {
    vm_id = 99
  }
  expect_failures = [var.vm_id]
}

run "template_vm_id_whole" {
  command = plan
  variables {
    template = { vm_id = 9000.5, node_name = "pve1" }
  }
  expect_failures = [var.template]
}

run "cores_in_range" {
  command = plan
  variables {
    cores = 0
  }
  expect_failures = [var.cores]
}

run "memory_in_range" {
  command = plan
  variables {
    memory_mb = 256
  }
  expect_failures = [var.memory_mb]
}

run "disk_in_range" {
  command = plan
  variables {
    disk_gb = 5
  }
  expect_failures = [var.disk_gb]
}

run "datastore_id_is_a_storage_id" {
  command = plan
  variables {
    datastore_id = "../etc"
  }
  expect_failures = [var.datastore_id]
}

run "network_ipv4_is_an_address" {
  command = plan
  variables {
    network = { ipv4 = "10.99.0.300", prefix = 24, gateway = "10.99.0.1", dns_servers = ["10.99.0.2"] }
  }
  expect_failures = [var.network]
}

run "network_prefix_in_range" {
  command = plan
  variables {
    network = { ipv4 = "10.99.0.100", prefix = 31, gateway = "10.99.0.1", dns_servers = ["10.99.0.2"] }
  }
  expect_failures = [var.network]
}

run "network_gateway_in_subnet" {
  command = plan
  variables {
    network = { ipv4 = "10.99.0.100", prefix = 24, gateway = "10.98.0.1", dns_servers = ["10.99.0.2"] }
  }
  expect_failures = [var.network]
}

run "network_needs_a_resolver" {
  command = plan
  variables {
    network = { ipv4 = "10.99.0.100", prefix = 24, gateway = "10.99.0.1", dns_servers = [] }
  }
  expect_failures = [var.network]
}

run "network_vlan_in_range" {
  command = plan
  variables {
    network = { ipv4 = "10.99.0.100", prefix = 24, gateway = "10.99.0.1", dns_servers = ["10.99.0.2"], vlan_id = 4095 }
  }
  expect_failures = [var.network]
}

run "network_bridge_is_a_bridge_name" {
  command = plan
  variables {
    network = { ipv4 = "10.99.0.100", prefix = 24, gateway = "10.99.0.1", dns_servers = ["10.99.0.2"], bridge = "vmbr0 up" }
  }
  expect_failures = [var.network]
}

run "admin_user_is_a_user_name" {
  command = plan
  variables {
    admin_user = "root:x"
  }
  expect_failures = [var.admin_user]
}

run "ssh_keys_are_public_keys" {
  command = plan
  variables {
    ssh_public_keys = ["-----BEGIN OPENSSH PRIVATE KEY-----"]
  }
  expect_failures = [var.ssh_public_keys]
}

run "ssh_keys_not_empty" {
  command = plan
  variables {
    ssh_public_keys = []
  }
  expect_failures = [var.ssh_public_keys]
}

run "cpu_type_is_a_model_name" {
  command = plan
  variables {
    cpu_type = "host,+evil"
  }
  expect_failures = [var.cpu_type]
}

run "agent_timeout_is_a_duration" {
  command = plan
  variables {
    agent_timeout = "forever"
  }
  expect_failures = [var.agent_timeout]
}

run "extra_tags_are_tags" {
  command = plan
  variables {
    extra_tags = ["Bad Tag"]
  }
  expect_failures = [var.extra_tags]
}
