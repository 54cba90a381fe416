//! Workspaces inside the caller's tenant, and their members.

mod access;
mod commands;
mod members;
mod queries;

pub use commands::{CreateWorkspace, RenameWorkspace};
pub use members::WorkspaceMemberChange;
