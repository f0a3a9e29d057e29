"""The apps' OCI images: built without a container engine, pushed, signed, and checked before
staging and prod run them (docs/images.md)."""
