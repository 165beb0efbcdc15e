pub mod aspa;
pub mod ca;
pub mod inspect;
pub mod members;
pub mod publication;
pub mod roa;
pub mod up;
pub mod validate;
