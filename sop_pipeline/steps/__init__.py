"""The use cases: the SOP's steps as the pipeline runs them (validation, analysis, tracking,
provisioning, reporting), over the domain and through the adapters."""
