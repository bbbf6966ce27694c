# Plan-mode tests of the root stack: one request's values in, one VM planned.

provider "proxmox" {
  endpoint  = "https://127.0.0.1:9/"
  api_token = "root@pam!plan=00000000-0000-0000-0000-000000000000"
}

variables {
  request_id  = "dinkes-simpus"
  opd_code    = "DINKES"
  environment = "lab"
  vcpu        = 2
  memory_mb   = 2048
  disk_gb     = 20
  os_template = { name = "debian-12-cloudinit", vm_id = 9000, node_name = "pve1" }
  vmid        = 1000
  node_name   = "pve1"
  network = {
    ipv4        = "10.99.0.100"
    prefix      = 24
    gateway     = "10.99.0.1"
    dns_servers = ["10.99.0.2"]
  }
  ssh_public_keys = ["ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIEi2JptnezdYNyec0JtsKltgffUiJICpRkUS4LHB1m0 admin@sop"]
}

run "request_becomes_one_vm" {
  command = plan

  assert {
    condition     = module.vm.request_tag == "sop-req-dinkes-simpus"
    error_message = "the VM must carry the request tag"
  }
  assert {
    condition     = module.vm.opd_tag == "sop-opd-dinkes"
    error_message = "the VM must carry the OPD tag in lower case"
  }
  assert {
    condition     = output.address == "10.99.0.100"
    error_message = "the address output must be the allocated address"
  }
}

run "request_id_must_be_a_dns_label" {
  command = plan
  variables {
    request_id = "-dinkes"
  }
  expect_failures = [var.request_id]
}

run "opd_code_is_an_opd_code" {
  command = plan
  variables {
    opd_code = "Dinkes"
  }
  expect_failures = [var.opd_code]
}

run "environment_is_known" {
  command = plan
  variables {
    environment = "prod"
  }
  expect_failures = [var.environment]
}

run "vcpu_in_range" {
  command = plan
  variables {
    vcpu = 65
  }
  expect_failures = [var.vcpu]
}

run "memory_in_range" {
  command = plan
  variables {
    memory_mb = 100
  }
  expect_failures = [var.memory_mb]
}

run "disk_in_range" {
  command = plan
  variables {
    disk_gb = 5000
  }
  expect_failures = [var.disk_gb]
}

run "os_template_name" {
  command = plan
  variables {
    os_template = { name = "Debian 12", vm_id = 9000, node_name = "pve1" }
  }
  expect_failures = [var.os_template]
}

run "vmid_in_range" {
  command = plan
  variables {
    vmid = 1.5
  }
  expect_failures = [var.vmid]
}
