//! Scripted conversations for `tiller robot test`.
