# This file is maintained automatically by "terraform init".
# Manual edits may be lost in future updates.

provider "registry.terraform.io/bpg/proxmox" {
  version     = "0.111.1"
  constraints = "0.111.1"
  hashes = [
    "h1:IC/HGHXssqGVekgrqJoNXIQMGOtt4icb0gIYQ83Rbak=",
    "h1:ML2D3UUZTM99yrll/EBXj7wBYMb8xmQgomqFNybEoxY=",
    "zh:6ed47bc00d0913a1d0880618fa1376115e9edab6b4a658c081061a7f0e4ca360",
  ]
}
