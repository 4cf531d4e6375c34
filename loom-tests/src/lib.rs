//! Loom models of the kernel race windows live in tests/.
