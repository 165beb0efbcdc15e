pub mod inspect;
pub mod up;
