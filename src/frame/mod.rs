//! Frame layer.
