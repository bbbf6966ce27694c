terraform {
  required_version = ">= 1.6.0"

  required_providers {
    proxmox = {
      # Written in full so Terraform and OpenTofu resolve the same address in the mirror.
      source  = "registry.terraform.io/bpg/proxmox"
      version = "0.111.1"
    }
  }

  # State: the local backend by default. The pipeline's Terraform adapter passes
  # -backend-config for the PostgreSQL "pg" backend on shared runners (see docs/terraform.md);
  # the stack itself names no backend, so one copy serves both.
}

# Endpoint and API token come from the environment (PROXMOX_VE_ENDPOINT, PROXMOX_VE_API_TOKEN),
# never from files; the CA is the system's, or SSL_CERT_FILE for the lab's self-signed one.
provider "proxmox" {}
