//! Credentials: password hashing, access tokens, opaque secrets, second factors and the
//! box that seals secrets kept for later.

pub mod jwt;
pub mod password;
pub mod published_keys;
pub mod secret_box;
pub mod secrets;
pub mod totp;
