//! The echo server: answers every text frame at once with a constant, to show how fast
//! the load generator itself can go.

use std::net::SocketAddr;

use futures_util::{SinkExt, StreamExt};
use tokio::net::{TcpListener, TcpStream};
use tokio_tungstenite::tungstenite::{Message, Utf8Bytes};

use super::{announce, websocket_config};

/// The answer to every frame: what a `noop` gets, without the request id.
const ANSWER: &str = r#"{"method":"bench.noop","status":200,"data":null}"#;

pub(super) async fn serve(addr: SocketAddr) -> Result<(), String> {
    let listener = TcpListener::bind(addr)
        .await
        .map_err(|e| format!("cannot listen on {addr}: {e}"))?;
    announce(listener.local_addr().map_err(|e| e.to_string())?)?;
    loop {
        match listener.accept().await {
            Ok((stream, _)) => {
                tokio::spawn(connection(stream));
            }
            Err(_) => tokio::time::sleep(std::time::Duration::from_millis(50)).await,
        }
    }
}

async fn connection(stream: TcpStream) {
    let _ = stream.set_nodelay(true);
    let Ok(mut ws) =
        tokio_tungstenite::accept_async_with_config(stream, Some(websocket_config())).await
    else {
        return;
    };
    while let Some(Ok(message)) = ws.next().await {
        if message.is_text()
            && ws
                .send(Message::Text(Utf8Bytes::from_static(ANSWER)))
                .await
                .is_err()
        {
            break;
        }
    }
}
