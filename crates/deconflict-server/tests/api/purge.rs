use std::sync::atomic::Ordering;
use std::time::Duration;

use deconflict_core::ids::EntityId;
use deconflict_core::store;
use deconflict_server::purge::purge_once;

use crate::helpers::*;

/// Whether the store holds the intent, read off the async threads (a PostgreSQL read blocks).
async fn stored(app: &TestApp, id: &str) -> bool {
    let id = EntityId::parse(id).unwrap();
    let store = app.state.store.clone();
    tokio::task::spawn_blocking(move || {
        store::read(&*store, |tx| Ok(tx.operational_intent(id)?.is_some())).unwrap()
    })
    .await
    .unwrap()
}

async fn the_purge_removes_what_ended_past_the_grace_and_nothing_else(backend: Backend) {
    let app = spawn_app(backend).await;
    let t = app.token("uss1", &[SC]);
    let (short, long) = (new_id(), new_id());
    let c = app
        .put(
            &format!("{OI}/{short}"),
            &t,
            &intent(volume(46.4, 6.5, 0.01, 0, 10), &[]),
        )
        .await;
    c.expect(201);
    let sub = c.body["operational_intent_reference"]["subscription_id"]
        .as_str()
        .unwrap()
        .to_owned();
    app.put(&format!("{OI}/{long}"), &t, &intent(elsewhere(), &[]))
        .await
        .expect(201);
    let grace = Duration::from_secs(300);

    assert_eq!(purge_once(&app.state, grace).await.unwrap(), 0);
    // 12 minutes later the short one has ended, but not longer than the grace ago.
    app.clock_offset.store(12 * 60, Ordering::SeqCst);
    assert_eq!(purge_once(&app.state, grace).await.unwrap(), 0);
    assert!(stored(&app, &short).await);

    // 20 minutes later it is gone, with its implicit subscription; the long one stays.
    app.clock_offset.store(20 * 60, Ordering::SeqCst);
    let removed = purge_once(&app.state, grace).await.unwrap();
    assert!(removed >= 1, "removed {removed}");
    assert!(!stored(&app, &short).await);
    assert!(stored(&app, &long).await);
    let sub = EntityId::parse(&sub).unwrap();
    let store = app.state.store.clone();
    let sub_left = tokio::task::spawn_blocking(move || {
        store::read(&*store, |tx| Ok(tx.subscription(sub)?.is_some())).unwrap()
    })
    .await
    .unwrap();
    assert!(
        !sub_left,
        "the implicit subscription of a purged intent is purged too"
    );
    app.get(&format!("{OI}/{long}"), &t).await.expect(200);
}

backend_tests!(the_purge_removes_what_ended_past_the_grace_and_nothing_else,);
