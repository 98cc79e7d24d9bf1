//! Messages to citizens (phone codes) through an outbox and a pluggable channel.
//!
//! A message is written to `identity_outbox` by the operation that causes it; [`Outbox::deliver`]
//! then hands every unsent message to the [`Channel`] and marks it sent, or keeps the error and
//! leaves it for the next round. A real SMS gateway is one more [`Channel`]; the
//! [`DevelopmentChannel`] writes each message to a table and to the log instead.

use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;

use errandless_store::Store;
use sqlx::Row as _;

use crate::error::IdentityError;
use crate::token::{now_millis, random_id, Millis};

/// A future a channel returns.
pub type Sending<'a> = Pin<Box<dyn Future<Output = Result<(), String>> + Send + 'a>>;

/// One message for one recipient.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Message {
    pub id: String,
    /// A phone number.
    pub recipient: String,
    pub body: String,
    pub created_at: Millis,
}

/// Something that carries messages to people: an SMS gateway, or the development channel.
pub trait Channel: Send + Sync {
    /// Sends one message; an error is kept and the message tried again later.
    fn send<'a>(&'a self, message: &'a Message) -> Sending<'a>;
}

/// The channel for development and tests: each message goes to `identity_dev_messages` and to
/// the log (at info level, with the recipient's number masked).
#[derive(Clone, Debug)]
pub struct DevelopmentChannel {
    store: Store,
}

impl DevelopmentChannel {
    pub fn new(store: Store) -> DevelopmentChannel {
        DevelopmentChannel { store }
    }

    /// The messages it has carried to `recipient`, oldest first.
    pub async fn messages_to(&self, recipient: &str) -> Result<Vec<Message>, IdentityError> {
        let rows = sqlx::query(
            "SELECT id, recipient, body, delivered_at FROM identity_dev_messages \
             WHERE recipient = $1 ORDER BY delivered_at, id",
        )
        .bind(recipient)
        .fetch_all(self.store.pool())
        .await?;
        rows.iter()
            .map(|r| {
                Ok(Message {
                    id: r.try_get("id")?,
                    recipient: r.try_get("recipient")?,
                    body: r.try_get("body")?,
                    created_at: r.try_get("delivered_at")?,
                })
            })
            .collect()
    }
}

impl Channel for DevelopmentChannel {
    fn send<'a>(&'a self, message: &'a Message) -> Sending<'a> {
        Box::pin(async move {
            sqlx::query(
                "INSERT INTO identity_dev_messages (id, recipient, body, delivered_at) \
                 VALUES ($1, $2, $3, $4) ON CONFLICT (id) DO NOTHING",
            )
            .bind(&message.id)
            .bind(&message.recipient)
            .bind(&message.body)
            .bind(now_millis())
            .execute(self.store.pool())
            .await
            .map_err(|e| e.to_string())?;
            tracing::info!(
                to = %mask_phone(&message.recipient),
                body = %message.body,
                "development channel message"
            );
            Ok(())
        })
    }
}

/// A phone number with its middle hidden, for logs: `138****0001`.
pub fn mask_phone(phone: &str) -> String {
    if phone.len() == 11 && phone.is_ascii() {
        format!("{}****{}", &phone[..3], &phone[7..])
    } else {
        "****".into()
    }
}

/// The outbox: what is waiting to be sent, and the channel it goes through.
#[derive(Clone)]
pub struct Outbox {
    store: Store,
    channel: Arc<dyn Channel>,
}

impl std::fmt::Debug for Outbox {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Outbox").finish_non_exhaustive()
    }
}

/// Messages are tried this many times before they are left for an operator.
pub const MAX_SEND_ATTEMPTS: i64 = 5;

impl Outbox {
    pub fn new(store: Store, channel: Arc<dyn Channel>) -> Outbox {
        Outbox { store, channel }
    }

    /// Queues a message inside the caller's transaction.
    pub(crate) async fn queue(
        tx: &mut sqlx::Transaction<'_, sqlx::Any>,
        recipient: &str,
        body: &str,
        now: Millis,
    ) -> Result<String, IdentityError> {
        let id = random_id();
        sqlx::query(
            "INSERT INTO identity_outbox (id, recipient, body, created_at) VALUES ($1, $2, $3, $4)",
        )
        .bind(&id)
        .bind(recipient)
        .bind(body)
        .bind(now)
        .execute(&mut **tx)
        .await?;
        Ok(id)
    }

    /// Sends every unsent message that has attempts left; returns how many went out.
    pub async fn deliver(&self) -> Result<usize, IdentityError> {
        let rows = sqlx::query(
            "SELECT id, recipient, body, created_at FROM identity_outbox \
             WHERE sent_at IS NULL AND attempts < $1 ORDER BY created_at, id LIMIT 100",
        )
        .bind(MAX_SEND_ATTEMPTS)
        .fetch_all(self.store.pool())
        .await?;
        let mut sent = 0;
        for r in rows {
            let message = Message {
                id: r.try_get("id")?,
                recipient: r.try_get("recipient")?,
                body: r.try_get("body")?,
                created_at: r.try_get("created_at")?,
            };
            match self.channel.send(&message).await {
                Ok(()) => {
                    sqlx::query(
                        "UPDATE identity_outbox SET sent_at = $1, attempts = attempts + 1 WHERE id = $2",
                    )
                    .bind(now_millis())
                    .bind(&message.id)
                    .execute(self.store.pool())
                    .await?;
                    sent += 1;
                }
                Err(e) => {
                    tracing::warn!(id = %message.id, error = %e, "message not sent");
                    sqlx::query(
                        "UPDATE identity_outbox SET attempts = attempts + 1, last_error = $1 WHERE id = $2",
                    )
                    .bind(e)
                    .bind(&message.id)
                    .execute(self.store.pool())
                    .await?;
                }
            }
        }
        Ok(sent)
    }
}
