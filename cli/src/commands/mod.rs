pub mod aspa;
pub mod audit;
pub mod ca;
pub mod history;
pub mod inspect;
pub mod members;
pub mod offline_ta;
pub mod parent;
pub mod publication;
pub mod roa;
pub mod router_cert;
pub mod ta_keyroll;
pub mod up;
pub mod validate;
pub mod validator;
pub mod validity;

/// Print `v` as indented JSON.
pub fn print_json<T: serde::Serialize + ?Sized>(v: &T) -> crate::error::Result<()> {
    println!("{}", serde_json::to_string_pretty(v).map_err(crate::error::CliError::internal)?);
    Ok(())
}
