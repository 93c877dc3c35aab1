//! The seat directory on every backend: saving is insert-or-update by `(tenant, seat_id)`,
//! lists are in `seat_id` byte order, an e-mail is unique per tenant and found whatever its
//! case, and no tenant sees another's seats.

use chrono::Duration;
use tiller_core::{
    seats::{NewSeat, SeatEmail},
    store::DynStore,
    Clock as _, StoreError, Unique,
};
use tiller_testkit::ManualClock;

use super::{conversations::fixtures::Scope, open, TestDatabase};

on_every_backend!(seat_directory, seats_story);

fn seat(id: &str, name: &str, email: &str) -> NewSeat {
    NewSeat::new(id, name, email).unwrap()
}

fn email(raw: &str) -> SeatEmail {
    SeatEmail::parse(raw).unwrap()
}

fn ids(seats: &[tiller_core::seats::Seat]) -> Vec<&str> {
    seats.iter().map(|s| s.seat_id.as_str()).collect()
}

async fn seats_story(store: DynStore) {
    let clock = ManualClock::new();
    let a = Scope::new(&store, "A", &clock).await;
    let b = Scope::new(&store, "B", &clock).await;
    assert!(store.seats(a.id).await.unwrap().is_empty());

    // Put, then update: same id, new name and e-mail; created_at stays.
    let created = clock.now();
    let first = store
        .put_seat(a.id, &seat("708", "Sandy", "sandy@nxcloud.com"), created)
        .await
        .unwrap();
    assert_eq!(
        (&*first.seat_id, &*first.name, &*first.email),
        ("708", "Sandy", "sandy@nxcloud.com")
    );
    assert_eq!((first.created_at, first.updated_at), (created, created));
    clock.advance(Duration::seconds(5));
    let updated = store
        .put_seat(
            a.id,
            &seat("708", "Sandy Lee", "Sandy.Lee@NXCloud.com"),
            clock.now(),
        )
        .await
        .unwrap();
    assert_eq!(
        (&*updated.name, &*updated.email),
        ("Sandy Lee", "sandy.lee@nxcloud.com")
    );
    assert_eq!(
        (updated.created_at, updated.updated_at),
        (created, clock.now())
    );
    assert_eq!(store.seats(a.id).await.unwrap(), vec![updated.clone()]);

    // Saving a seat again with its own e-mail is no conflict.
    store
        .put_seat(
            a.id,
            &seat("708", "Sandy Lee", "sandy.lee@nxcloud.com"),
            clock.now(),
        )
        .await
        .unwrap();

    // Byte order of seat_id, whatever the database's collation.
    for (id, mail) in [
        ("a", "a@x"),
        ("9", "nine@x"),
        ("Z-1", "z@x"),
        ("10", "ten@x"),
        ("A", "big-a@x"),
    ] {
        store
            .put_seat(a.id, &seat(id, id, mail), clock.now())
            .await
            .unwrap();
    }
    let listed = store.seats(a.id).await.unwrap();
    assert_eq!(ids(&listed), vec!["10", "708", "9", "A", "Z-1", "a"]);

    // By ids: the known ones, in order; unknown ids are left out.
    let wanted = ["a", "9", "nope", "708"].map(str::to_owned);
    let found = store.seats_by_ids(a.id, &wanted).await.unwrap();
    assert_eq!(ids(&found), vec!["708", "9", "a"]);
    assert_eq!(found[0], updated);
    assert!(store.seats_by_ids(a.id, &[]).await.unwrap().is_empty());

    // By e-mail, whatever the case it is asked in; the replaced e-mail finds nothing.
    let by_email = store
        .seat_by_email(a.id, &email("SANDY.LEE@nxcloud.com"))
        .await
        .unwrap();
    assert_eq!(by_email.as_ref().map(|s| &*s.seat_id), Some("708"));
    assert_eq!(
        store
            .seat_by_email(a.id, &email("sandy@nxcloud.com"))
            .await
            .unwrap(),
        None
    );

    email_conflicts(&store, &a, &clock).await;

    // Tenant B: sees none of A's seats, and may use the same ids and e-mails.
    assert!(store.seats(b.id).await.unwrap().is_empty());
    assert!(store.seats_by_ids(b.id, &wanted).await.unwrap().is_empty());
    assert_eq!(
        store
            .seat_by_email(b.id, &email("sandy.lee@nxcloud.com"))
            .await
            .unwrap(),
        None
    );
    let theirs = store
        .put_seat(
            b.id,
            &seat("708", "B's agent", "sandy.lee@nxcloud.com"),
            clock.now(),
        )
        .await
        .unwrap();
    assert_eq!(store.seats(b.id).await.unwrap(), vec![theirs]);
    let ours = store.seats_by_ids(a.id, &["708".to_owned()]).await.unwrap();
    assert_eq!(ours, vec![updated], "A's seat is untouched by B's");
}

/// Another seat of the tenant cannot take 708's e-mail, new or existing, and nothing
/// changes; the e-mail 708 gave up is free again.
async fn email_conflicts(store: &DynStore, a: &Scope, clock: &ManualClock) {
    let before = store.seats(a.id).await.unwrap();
    for taken in [
        seat("677", "Other", "Sandy.Lee@nxcloud.com"),
        seat("9", "Nine", "sandy.lee@nxcloud.com"),
    ] {
        match store.put_seat(a.id, &taken, clock.now()).await {
            Err(StoreError::Conflict(u)) => assert_eq!(u, Unique::SeatEmail),
            other => panic!("expected an e-mail conflict, got {other:?}"),
        }
    }
    assert_eq!(store.seats(a.id).await.unwrap(), before);
    store
        .put_seat(a.id, &seat("677", "Kim", "sandy@nxcloud.com"), clock.now())
        .await
        .unwrap();
}
