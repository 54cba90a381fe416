//! Migrations apply, roll back and re-apply cleanly on both backends.

use tessera_migration::{Migrator, MigratorTrait};
use tessera_tests::{Backend, TestDatabase, on_both_backends};

on_both_backends!(migrations_go_up_down_and_up_again);

async fn migrations_go_up_down_and_up_again(backend: Backend) {
    let Some(db) = TestDatabase::create(backend).await else {
        return;
    };
    db.migrate().await;
    let owner = db.owner().await;
    let applied = Migrator::get_applied_migrations(&owner).await.expect("status");
    assert_eq!(applied.len(), Migrator::migrations().len());

    Migrator::down(&owner, None).await.expect("all migrations roll back");
    assert!(
        Migrator::get_applied_migrations(&owner)
            .await
            .expect("status")
            .is_empty()
    );
    Migrator::up(&owner, None).await.expect("and apply again");
    assert_eq!(db.count("workspaces").await, 0);
    owner.close().await.ok();
}
