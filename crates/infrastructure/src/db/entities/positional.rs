//! Models read from a row by column position rather than by name, for the joined
//! pages every list of people reads (a membership or workspace membership beside its
//! user). SeaORM's by-name decoding formats each prefixed column name anew (`m_id`,
//! `u_email`, ...) and looks it up in the row's name table, for every column of every
//! row: on a members page of 50 that was a sixth of the server's CPU time.

use sea_orm::{DbErr, QueryResult};

/// A model whose columns can be read from `first` onwards, in its entity's
/// `Column::iter()` order (a test holds the two lists equal).
pub(crate) trait Positional: Sized {
    /// The columns read, in order.
    const COLUMNS: &'static [&'static str];

    fn at(row: &QueryResult, first: usize) -> Result<Self, DbErr>;
}

/// `positional!(module { field, ... })` reads `module::Model`'s fields in the order
/// given, which must be its columns' order.
macro_rules! positional {
    ($($entity:ident { $($field:ident),+ $(,)? })*) => {$(
        impl Positional for super::$entity::Model {
            const COLUMNS: &'static [&'static str] = &[$(stringify!($field)),+];

            fn at(row: &QueryResult, first: usize) -> Result<Self, DbErr> {
                let mut column = first;
                let mut next = || {
                    column += 1;
                    column - 1
                };
                Ok(Self {
                    $($field: row.try_get_by_index(next())?),+
                })
            }
        }
    )*};
}

positional! {
    user { id, email, display_name, password_hash, email_verified_at, is_platform_admin, created_at, updated_at }
    membership { tenant_id, id, user_id, role_id, status, created_at, updated_at }
    workspace_member { tenant_id, id, workspace_id, user_id, role_id, created_at }
}

#[cfg(test)]
mod tests {
    use sea_orm::{EntityTrait, IdenStatic as _, Iterable as _};

    use super::*;
    use crate::db::entities::{membership, user, workspace_member};

    fn columns<E: EntityTrait>() -> Vec<&'static str> {
        E::Column::iter().map(|column| column.as_str()).collect()
    }

    /// Reading by position is only right while the fields are listed in the columns'
    /// order: a column added, removed or moved in an entity fails here.
    #[test]
    fn each_positional_model_reads_its_entitys_columns_in_order() {
        assert_eq!(user::Model::COLUMNS, columns::<user::Entity>());
        assert_eq!(membership::Model::COLUMNS, columns::<membership::Entity>());
        assert_eq!(workspace_member::Model::COLUMNS, columns::<workspace_member::Entity>());
    }
}
