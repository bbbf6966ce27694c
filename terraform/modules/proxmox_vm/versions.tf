terraform {
  required_version = ">= 1.6.0"

  required_providers {
    proxmox = {
      # Written in full so Terraform and OpenTofu resolve the same address in the mirror.
      source  = "registry.terraform.io/bpg/proxmox"
      version = ">= 0.111.1, < 0.112.0"
    }
  }
}
