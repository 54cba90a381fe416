//! Workspaces inside the caller's tenant.

mod commands;
mod queries;

pub use commands::{CreateWorkspace, RenameWorkspace};
