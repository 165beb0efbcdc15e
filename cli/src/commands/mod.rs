pub mod aspa;
pub mod ca;
pub mod inspect;
pub mod members;
pub mod roa;
pub mod up;
