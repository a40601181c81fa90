//! The SAM transform (placeholder).
