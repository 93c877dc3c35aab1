//! A tenant's channels on every backend: a channel reads back as it was stored, secrets
//! included; no tenant sees another's; a webhook finds its channel by id or number alone;
//! a number belongs to one channel in the whole store.

use chrono::Duration;
use tiller_core::{
    channels::{Channel, ChannelId, ChannelKind, WhatsAppChannel},
    store::DynStore,
    Clock as _, Entity, Secret, StoreError, TenantId, Unique,
};
use tiller_testkit::ManualClock;

use super::{conversations::fixtures::Scope, open, TestDatabase};

on_every_backend!(channel_directory, channels_story);

fn whatsapp(phone_number_id: &str) -> ChannelKind {
    ChannelKind::WhatsApp(WhatsAppChannel {
        phone_number_id: phone_number_id.into(),
        waba_id: "102290129340398".into(),
        display_number: "+1 555-078-3881".into(),
        access_token: Secret::new("EAAG-token"),
        app_secret: Secret::new("app-secret"),
        verify_token: Secret::new("verify-me"),
        graph_url: Some("http://127.0.0.1:8089".into()),
        graph_version: None,
    })
}

fn create(t: TenantId, kind: ChannelKind, clock: &ManualClock) -> Channel {
    Channel::create(t, kind, clock.now()).unwrap()
}

fn not_found<T: std::fmt::Debug>(r: Result<T, StoreError>) {
    match r {
        Err(StoreError::NotFound(Entity::Channel)) => {}
        other => panic!("expected NotFound(Channel), got {other:?}"),
    }
}

async fn channels_story(store: DynStore) {
    let clock = ManualClock::new();
    let a = Scope::new(&store, "A", &clock).await;
    let b = Scope::new(&store, "B", &clock).await;
    assert!(store.channels(a.id).await.unwrap().is_empty());

    let wa = create(a.id, whatsapp("106540352242922"), &clock);
    store.create_channel(&wa).await.unwrap();
    clock.advance(Duration::seconds(1));
    let custom = create(
        a.id,
        ChannelKind::Custom {
            name: "huawei".into(),
        },
        &clock,
    );
    store.create_channel(&custom).await.unwrap();

    // Equal means every field, the secrets and the unset graph_version too.
    assert_eq!(store.channel(a.id, &wa.id).await.unwrap(), wa);
    assert_eq!(store.channel(a.id, &custom.id).await.unwrap(), custom);
    assert_eq!(
        store.channels(a.id).await.unwrap(),
        vec![wa.clone(), custom.clone()]
    );

    // Another tenant sees nothing of A's.
    assert!(store.channels(b.id).await.unwrap().is_empty());
    not_found(store.channel(b.id, &wa.id).await);
    not_found(store.remove_channel(b.id, &wa.id).await);

    // A webhook finds the channel, and so its tenant, by the id in its path or its number.
    assert_eq!(store.whatsapp_channel_by_id(&wa.id).await.unwrap(), wa);
    assert_eq!(
        store
            .whatsapp_channel_by_number("106540352242922")
            .await
            .unwrap(),
        wa
    );
    not_found(store.whatsapp_channel_by_id(&custom.id).await);
    not_found(store.whatsapp_channel_by_id(&ChannelId::generate()).await);
    not_found(store.whatsapp_channel_by_number("999").await);

    // A number is one channel's, whichever tenant adds it again.
    for t in [a.id, b.id] {
        match store
            .create_channel(&create(t, whatsapp("106540352242922"), &clock))
            .await
        {
            Err(StoreError::Conflict(u)) => assert_eq!(u, Unique::ChannelPhoneNumberId),
            other => panic!("expected Conflict, got {other:?}"),
        }
    }
    // Custom channels hold no number, so any number of them coexist.
    let second_custom = create(b.id, ChannelKind::Custom { name: "bot".into() }, &clock);
    store.create_channel(&second_custom).await.unwrap();
    let other_number = create(b.id, whatsapp("106540352242923"), &clock);
    store.create_channel(&other_number).await.unwrap();
    assert_eq!(store.channels(b.id).await.unwrap().len(), 2);

    // Removed is gone, by every lookup; the number is free again.
    store.remove_channel(a.id, &wa.id).await.unwrap();
    not_found(store.channel(a.id, &wa.id).await);
    not_found(store.whatsapp_channel_by_id(&wa.id).await);
    not_found(store.whatsapp_channel_by_number("106540352242922").await);
    not_found(store.remove_channel(a.id, &wa.id).await);
    assert_eq!(store.channels(a.id).await.unwrap(), vec![custom]);
    store
        .create_channel(&create(b.id, whatsapp("106540352242922"), &clock))
        .await
        .unwrap();
}
