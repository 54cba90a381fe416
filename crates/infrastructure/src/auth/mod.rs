//! Credentials: password hashing, access tokens, opaque secrets.

pub mod jwt;
pub mod password;
pub mod secrets;
