//! Closed tables of wire codes (error codes, refusal reasons): each entry's row is
//! written once, next to its variant, and the README's tables are generated from them.

/// Declares an enum whose variants each carry one row of a table: `ALL` lists them in
/// the table's order and a private `row()` returns the row, so the type's accessors
/// read their column from it.
#[macro_export]
macro_rules! wire_table {
    (
        $(#[$meta:meta])*
        $vis:vis enum $name:ident: $row:ty {
            $($variant:ident => $value:expr,)*
        }
    ) => {
        $(#[$meta])*
        #[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
        $vis enum $name {
            $($variant,)*
        }

        impl $name {
            /// Every entry, in the table's order.
            pub const ALL: &'static [$name] = &[$($name::$variant,)*];

            const fn row(self) -> $row {
                match self {
                    $($name::$variant => $value,)*
                }
            }
        }
    };
}
