//! `tiller dev …`: fakes of the providers Tiller talks to, shipped in the binary so a new
//! user can try a channel on one machine, offline. The flags and the start line are a
//! contract outside tools rely on.

use std::{
    net::SocketAddr,
    path::{Path, PathBuf},
    time::Duration,
};

use anyhow::Context as _;
use clap::{Args, Subcommand};
use serde_json::json;
use tiller_testkit::whatsapp::{FakeWhatsApp, FakeWhatsAppConfig, Inbound, Limits};

use crate::{
    app::shutdown_signal,
    config::{LogConfig, LogFormat},
    telemetry,
};

#[derive(Debug, Subcommand)]
pub enum DevCommand {
    /// Serve a fake of Meta's WhatsApp Cloud API: Graph sends in, signed webhooks out.
    FakeWhatsapp(FakeWhatsappArgs),
}

#[derive(Debug, Args)]
pub struct FakeWhatsappArgs {
    /// Address to listen on; port 0 picks a free one (the start line says which).
    #[arg(long, value_name = "ADDR")]
    pub listen: SocketAddr,
    /// Where the fake posts its webhooks (inbound messages, statuses).
    #[arg(long, value_name = "URL")]
    pub webhook: url::Url,
    /// File holding the Meta app secret that signs every webhook (X-Hub-Signature-256).
    #[arg(long, value_name = "F")]
    pub app_secret_file: PathBuf,
    /// The business number's id, the `{phone_number_id}` of Graph paths.
    #[arg(long, value_name = "P", default_value = "100000000000001")]
    pub phone_number_id: String,
    /// The WhatsApp Business Account the number belongs to (templates live there).
    #[arg(long, value_name = "W", default_value = "200000000000001")]
    pub waba_id: String,
    /// The number as users see it, echoed in webhook metadata.
    #[arg(long, value_name = "N", default_value = "+1 555 000 0001")]
    pub display_number: String,
    /// File holding the access token Graph calls must carry as a Bearer; any call passes without it.
    #[arg(long, value_name = "F")]
    pub access_token_file: Option<PathBuf>,
    /// Turn off Meta's limits (throughput, pair rate, 24 h service window).
    #[arg(long)]
    pub no_limits: bool,
    /// Once up, a user with this number (wa_id) writes to the business number.
    #[arg(long, value_name = "WA_ID", requires = "inbound_text")]
    pub inbound_from: Option<String>,
    /// The text of that user's message.
    #[arg(long, value_name = "TEXT", requires = "inbound_from")]
    pub inbound_text: Option<String>,
    /// The wait before each status webhook (sent, delivered, read) of a send.
    #[arg(long, value_name = "MS", default_value_t = 10)]
    pub status_delay_ms: u64,
}

pub async fn run(cmd: DevCommand) -> anyhow::Result<()> {
    match cmd {
        DevCommand::FakeWhatsapp(args) => fake_whatsapp(args).await,
    }
}

async fn fake_whatsapp(args: FakeWhatsappArgs) -> anyhow::Result<()> {
    // Each send and webhook post is logged at info: watching them is the point.
    telemetry::init(&LogConfig {
        format: LogFormat::Pretty,
        filter: "info".into(),
    });
    let mut config = FakeWhatsAppConfig::new(read_secret(&args.app_secret_file, "app secret")?);
    config.webhook_url = Some(args.webhook.to_string());
    config.access_token = args
        .access_token_file
        .as_deref()
        .map(|f| read_secret(f, "access token"))
        .transpose()?;
    if args.no_limits {
        config.limits = Limits::off();
    }
    config.status_delay = Duration::from_millis(args.status_delay_ms);
    let listener = tokio::net::TcpListener::bind(args.listen)
        .await
        .with_context(|| format!("listening on {}", args.listen))?;
    let fake = FakeWhatsApp::serve(listener, config).context("starting the fake")?;
    fake.add_number(&args.phone_number_id, &args.waba_id, &args.display_number);
    super::say(
        &json!({
            "listen": fake.addr().to_string(),
            "graph_url": fake.base_url(),
            "phone_number_id": args.phone_number_id,
            "waba_id": args.waba_id,
            "display_number": args.display_number,
            "webhook": args.webhook.as_str(),
        })
        .to_string(),
    )?;

    // Listening for signals from here on, so one during the injection still stops cleanly.
    let mut signal = std::pin::pin!(shutdown_signal());
    if let (Some(from), Some(text)) = (&args.inbound_from, &args.inbound_text) {
        let inbound = Inbound::text(&args.phone_number_id, from, text);
        tokio::select! {
            () = &mut signal => return stop(fake).await,
            injected = fake.inject_inbound(inbound) => {
                let outcome = injected.context("--inbound-from")?;
                tracing::info!(
                    wamid = %outcome.wamid,
                    webhook_status = ?outcome.webhook_status,
                    "fake WhatsApp injected the inbound message"
                );
            }
        }
    }
    signal.await;
    stop(fake).await
}

/// Lets the status webhooks already due go out, without waiting long on a dead receiver.
async fn stop(fake: FakeWhatsApp) -> anyhow::Result<()> {
    if tokio::time::timeout(Duration::from_secs(5), fake.idle())
        .await
        .is_err()
    {
        tracing::warn!("dropping the status webhooks still pending");
    }
    fake.shutdown();
    Ok(())
}

/// A secret file's contents without the trailing newline editors and `echo` add.
fn read_secret(path: &Path, what: &str) -> anyhow::Result<String> {
    let raw = std::fs::read_to_string(path)
        .with_context(|| format!("reading the {what} from {}", path.display()))?;
    let secret = raw.trim_end_matches(['\r', '\n']);
    anyhow::ensure!(
        !secret.is_empty(),
        "the {what} file {} is empty",
        path.display()
    );
    Ok(secret.to_owned())
}
