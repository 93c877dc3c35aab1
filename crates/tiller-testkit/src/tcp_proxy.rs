//! A TCP proxy a test can cut: what a database that goes away looks like to the server in
//! front of it. While cut, every open connection is closed and new ones are accepted and
//! closed at once (as a restarting PostgreSQL refuses them); restored, it forwards again.

use std::{
    net::SocketAddr,
    sync::{
        atomic::{AtomicBool, Ordering},
        Arc, Mutex,
    },
};

use tokio::{
    net::{TcpListener, TcpStream},
    task::JoinSet,
};

pub struct TcpProxy {
    /// Where clients connect: `127.0.0.1:<port>`.
    pub addr: SocketAddr,
    state: Arc<State>,
    accept: tokio::task::JoinHandle<()>,
}

struct State {
    target: SocketAddr,
    cut: AtomicBool,
    pipes: Mutex<JoinSet<()>>,
}

impl TcpProxy {
    /// Forwards a free loopback port to `target`.
    pub async fn start(target: SocketAddr) -> TcpProxy {
        let listener = TcpListener::bind("127.0.0.1:0").await.expect("bind proxy");
        let addr = listener.local_addr().expect("proxy addr");
        let state = Arc::new(State {
            target,
            cut: AtomicBool::new(false),
            pipes: Mutex::new(JoinSet::new()),
        });
        let accept = tokio::spawn(accept(listener, state.clone()));
        TcpProxy {
            addr,
            state,
            accept,
        }
    }

    /// Closes every connection and refuses new ones until [`TcpProxy::restore`].
    pub fn cut(&self) {
        self.state.cut.store(true, Ordering::SeqCst);
        self.state.pipes().abort_all();
    }

    pub fn restore(&self) {
        self.state.cut.store(false, Ordering::SeqCst);
    }
}

impl Drop for TcpProxy {
    fn drop(&mut self) {
        self.accept.abort();
        self.state.pipes().abort_all();
    }
}

impl State {
    fn pipes(&self) -> std::sync::MutexGuard<'_, JoinSet<()>> {
        self.pipes
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
    }
}

async fn accept(listener: TcpListener, state: Arc<State>) {
    while let Ok((mut client, _)) = listener.accept().await {
        if state.cut.load(Ordering::SeqCst) {
            drop(client);
            continue;
        }
        let target = state.target;
        state.pipes().spawn(async move {
            if let Ok(mut server) = TcpStream::connect(target).await {
                let _ = tokio::io::copy_bidirectional(&mut client, &mut server).await;
            }
        });
    }
}
