// extauth patch: imports `io`, `AsyncRead`, `ReadBuf`, `CONTENT_LENGTH` and `Method` added
use std::{
    io::{self, Write},
    pin::{pin, Pin},
    task::{Context, Poll},
};

use actix_codec::{AsyncRead, Framed, ReadBuf};
use actix_http::{
    body::{BodySize, MessageBody},
    error::PayloadError,
    h1,
    header::{HeaderMap, TryIntoHeaderValue, CONTENT_LENGTH, EXPECT, HOST},
    Method, Payload, RequestHeadType, ResponseHead, StatusCode,
};
use actix_utils::future::poll_fn;
use bytes::{buf::BufMut, Bytes, BytesMut};
use futures_core::{ready, Stream};
use futures_util::SinkExt as _;
use pin_project_lite::pin_project;

use super::{
    connection::{ConnectionIo, H1Connection},
    error::{ConnectError, SendRequestError},
};
use crate::BoxError;

/// extauth patch: the most interim (1xx) answers skipped before a final one; a server sending
/// more is treated as broken (the exchange fails and the connection is closed).
const MAX_INTERIM_RESPONSES: usize = 32;

/// extauth patch: the error of an answer whose interim (1xx) part is unusable.
#[derive(Debug)]
struct InterimResponse;

fn interim_error(msg: String) -> SendRequestError {
    SendRequestError::Custom(
        Box::new(io::Error::new(io::ErrorKind::InvalidData, msg)),
        Box::new(InterimResponse),
    )
}

/// extauth patch: reads answer heads until a final (non-1xx) one, skipping interim answers
/// (RFC 9110 §15.2: a client reads past any number of them), at most
/// [`MAX_INTERIM_RESPONSES`]. With `until_continue`, a `100 Continue` is returned too (the
/// `expect: 100-continue` handshake waits for it). A `101 Switching Protocols` is an error:
/// upgrades go through `open_tunnel`, never here. An interim answer that announces a body is
/// malformed. On error the caller drops the connection: it is closed, never pooled.
async fn read_final_head<Io: ConnectionIo>(
    mut framed: Pin<&mut Framed<H1Connection<Io>, h1::ClientCodec>>,
    until_continue: bool,
) -> Result<ResponseHead, SendRequestError> {
    for _ in 0..=MAX_INTERIM_RESPONSES {
        let head = poll_fn(|cx| framed.as_mut().poll_next(cx))
            .await
            .ok_or(ConnectError::Disconnected)??;

        if !head.status.is_informational()
            || (until_continue && head.status == StatusCode::CONTINUE)
        {
            return Ok(head);
        }
        if head.status == StatusCode::SWITCHING_PROTOCOLS {
            return Err(interim_error(
                "101 Switching Protocols answered a request that asked for no upgrade".to_owned(),
            ));
        }
        if !matches!(framed.codec_ref().message_type(), h1::MessageType::None) {
            return Err(interim_error(format!(
                "interim answer {} announces a body",
                head.status
            )));
        }
    }

    Err(interim_error(format!(
        "more than {MAX_INTERIM_RESPONSES} interim (1xx) answers"
    )))
}

/// extauth patch: whether a final answer whose codec found no length has, rightly, no body
/// (RFC 9112 §6.3): a 1xx, 204 or 304 status, an answer to HEAD, or an explicit
/// `content-length` (the codec turns `content-length: 0` into "no length"). Any other such
/// answer is delimited by the connection's close.
fn is_bodiless(head: &ResponseHead, head_request: bool) -> bool {
    head_request
        || head.status.is_informational()
        || head.status == StatusCode::NO_CONTENT
        || head.status == StatusCode::NOT_MODIFIED
        || head.headers.contains_key(CONTENT_LENGTH)
}

pub(crate) async fn send_request<Io, B>(
    io: H1Connection<Io>,
    mut head: RequestHeadType,
    body: B,
) -> Result<(ResponseHead, Payload), SendRequestError>
where
    Io: ConnectionIo,
    B: MessageBody,
    B::Error: Into<BoxError>,
{
    let mut body = pin!(body);

    // extauth patch: an answer to HEAD has no body whatever its head says
    let head_request = head.as_ref().method == Method::HEAD;

    let orig_length = body.size();
    let mut length = orig_length;
    let mut first_chunk = None;

    // This avoids sending `Transfer-Encoding: chunked` for requests with an empty body stream.
    // https://github.com/actix/actix-web/issues/2320
    if matches!(orig_length, BodySize::Stream) {
        enum Peek<E> {
            Pending,
            Item(Result<Bytes, E>),
            Eof,
        }

        match poll_fn(|cx| match body.as_mut().poll_next(cx) {
            Poll::Pending => Poll::Ready(Peek::Pending),
            Poll::Ready(Some(res)) => Poll::Ready(Peek::Item(res)),
            Poll::Ready(None) => Poll::Ready(Peek::Eof),
        })
        .await
        {
            Peek::Pending => {}
            Peek::Eof => length = BodySize::Sized(0),
            Peek::Item(Ok(chunk)) => first_chunk = Some(chunk),
            Peek::Item(Err(err)) => return Err(SendRequestError::Body(err.into())),
        }
    }

    // set request host header
    if !head.as_ref().headers.contains_key(HOST)
        && !head.extra_headers().iter().any(|h| h.contains_key(HOST))
    {
        if let Some(host) = head.as_ref().uri.host() {
            let mut wrt = BytesMut::with_capacity(host.len() + 5).writer();

            match head.as_ref().uri.port_u16() {
                None | Some(80) | Some(443) => write!(wrt, "{}", host)?,
                Some(port) => write!(wrt, "{}:{}", host, port)?,
            };

            match wrt.get_mut().split().freeze().try_into_value() {
                Ok(value) => match head {
                    RequestHeadType::Owned(ref mut head) => {
                        head.headers.insert(HOST, value);
                    }
                    RequestHeadType::Rc(_, ref mut extra_headers) => {
                        let headers = extra_headers.get_or_insert(HeaderMap::new());
                        headers.insert(HOST, value);
                    }
                },
                Err(err) => log::error!("Can not set HOST header {err}"),
            }
        }
    }

    // create Framed and prepare sending request
    let mut framed = Framed::new(io, h1::ClientCodec::default());

    // Check EXPECT header and enable expect handle flag accordingly.
    // See https://datatracker.ietf.org/doc/html/rfc7231#section-5.1.1
    let is_expect = if head.as_ref().headers.contains_key(EXPECT) {
        match orig_length {
            BodySize::None | BodySize::Sized(0) => {
                let keep_alive = framed.codec_ref().keep_alive();
                framed.io_mut().on_release(keep_alive);

                // TODO: use a new variant or a new type better describing error violate
                // `Requirements for clients` session of above RFC
                return Err(SendRequestError::Connect(ConnectError::Disconnected));
            }
            _ => true,
        }
    } else {
        false
    };

    let mut pin_framed = Pin::new(&mut framed);

    // special handle for EXPECT request.
    let (do_send, mut res_head) = if is_expect {
        pin_framed.send((head, length).into()).await?;

        // extauth patch: interim answers other than `100 Continue` are skipped
        let head = read_final_head(pin_framed.as_mut(), true).await?;

        // return response head in case status code is not continue
        // and current head would be used as final response head.
        (head.status == StatusCode::CONTINUE, Some(head))
    } else {
        pin_framed.feed((head, length).into()).await?;

        (true, None)
    };

    if do_send {
        // send request body
        match length {
            BodySize::None | BodySize::Sized(0) => {
                poll_fn(|cx| pin_framed.as_mut().flush(cx)).await?;
            }
            _ => send_body(body.as_mut(), pin_framed.as_mut(), first_chunk).await?,
        };

        // read response and init read body
        // extauth patch: skip interim (1xx) answers, so that the final answer read here is
        // this request's, not left on the connection for the next one
        let head = read_final_head(pin_framed.as_mut(), false).await?;

        res_head = Some(head);
    }

    let head = res_head.unwrap();

    // extauth patch: a connection is pooled only if the server read the whole request (with
    // `expect: 100-continue` and a final answer instead of `100`, the body was never sent) and
    // sent nothing past its answer (bytes already read past it would otherwise be lost, and
    // the server's idea of where its answers end is not this client's)
    let reusable = do_send;

    match pin_framed.codec_ref().message_type() {
        h1::MessageType::None if is_bodiless(&head, head_request) => {
            let keep_alive =
                pin_framed.codec_ref().keep_alive() && reusable && pin_framed.is_read_buf_empty();
            pin_framed.io_mut().on_release(keep_alive);

            Ok((head, Payload::None))
        }
        // extauth patch: no length and a body allowed: the body ends at the connection's close
        h1::MessageType::None => Ok((
            head,
            Payload::Stream {
                payload: Box::pin(CloseDelimited::new(framed)),
            },
        )),
        _ => Ok((
            head,
            Payload::Stream {
                payload: Box::pin(PlStream::new(framed, reusable)),
            },
        )),
    }
}

pub(crate) async fn open_tunnel<Io>(
    io: Io,
    head: RequestHeadType,
) -> Result<(ResponseHead, Framed<Io, h1::ClientCodec>), SendRequestError>
where
    Io: ConnectionIo,
{
    // create Framed and send request.
    let mut framed = Framed::new(io, h1::ClientCodec::default());
    framed.send((head, BodySize::None).into()).await?;

    // read response head.
    let head = poll_fn(|cx| Pin::new(&mut framed).poll_next(cx))
        .await
        .ok_or(ConnectError::Disconnected)??;

    Ok((head, framed))
}

/// send request body to the peer
pub(crate) async fn send_body<Io, B>(
    mut body: Pin<&mut B>,
    mut framed: Pin<&mut Framed<Io, h1::ClientCodec>>,
    first_chunk: Option<Bytes>,
) -> Result<(), SendRequestError>
where
    Io: ConnectionIo,
    B: MessageBody,
    B::Error: Into<BoxError>,
{
    if let Some(chunk) = first_chunk {
        framed.as_mut().write(h1::Message::Chunk(Some(chunk)))?;
    }

    let mut eof = false;
    while !eof {
        while !eof && !framed.as_ref().is_write_buf_full() {
            match poll_fn(|cx| body.as_mut().poll_next(cx)).await {
                Some(Ok(chunk)) => {
                    framed.as_mut().write(h1::Message::Chunk(Some(chunk)))?;
                }
                Some(Err(err)) => return Err(SendRequestError::Body(err.into())),
                None => {
                    eof = true;
                    framed.as_mut().write(h1::Message::Chunk(None))?;
                }
            }
        }

        if !framed.as_ref().is_write_buf_empty() {
            poll_fn(|cx| match framed.as_mut().flush(cx) {
                Poll::Ready(Ok(_)) => Poll::Ready(Ok(())),
                Poll::Ready(Err(err)) => Poll::Ready(Err(err)),
                Poll::Pending => {
                    if !framed.as_ref().is_write_buf_full() {
                        Poll::Ready(Ok(()))
                    } else {
                        Poll::Pending
                    }
                }
            })
            .await?;
        }
    }

    framed.get_mut().flush().await?;
    Ok(())
}

pin_project! {
    pub(crate) struct PlStream<Io: ConnectionIo> {
        #[pin]
        framed: Framed<H1Connection<Io>, h1::ClientPayloadCodec>,
        // extauth patch: false when the connection must be closed at the end
        reusable: bool,
    }
}

impl<Io: ConnectionIo> PlStream<Io> {
    fn new(framed: Framed<H1Connection<Io>, h1::ClientCodec>, reusable: bool) -> Self {
        let framed = framed.into_map_codec(|codec| codec.into_payload_codec());

        PlStream { framed, reusable }
    }
}

impl<Io: ConnectionIo> Stream for PlStream<Io> {
    type Item = Result<Bytes, PayloadError>;

    fn poll_next(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Option<Self::Item>> {
        let mut this = self.project();

        match ready!(this.framed.as_mut().next_item(cx)?) {
            Some(Some(chunk)) => Poll::Ready(Some(Ok(chunk))),
            Some(None) => {
                // extauth patch: bytes past the end of the answer: close, do not pool
                let keep_alive = this.framed.codec_ref().keep_alive()
                    && *this.reusable
                    && this.framed.is_read_buf_empty();
                this.framed.io_mut().on_release(keep_alive);
                Poll::Ready(None)
            }
            None => Poll::Ready(None),
        }
    }
}

/// extauth patch: the body of a final answer with neither `content-length` nor
/// `transfer-encoding`, which ends when the server closes the connection (RFC 9112 §6.3).
/// Yields the bytes already read past the head, then everything read until EOF. The connection
/// is closed at the end, on an error, or when the stream is dropped before the end (the
/// `H1Connection` is dropped with its io); it is never released to the pool.
pub(crate) struct CloseDelimited<Io: ConnectionIo> {
    io: Option<H1Connection<Io>>,
    buffered: Option<Bytes>,
}

impl<Io: ConnectionIo> CloseDelimited<Io> {
    fn new(framed: Framed<H1Connection<Io>, h1::ClientCodec>) -> Self {
        let parts = framed.into_parts();

        CloseDelimited {
            io: Some(parts.io),
            buffered: Some(parts.read_buf.freeze()).filter(|b| !b.is_empty()),
        }
    }
}

impl<Io: ConnectionIo> Stream for CloseDelimited<Io> {
    type Item = Result<Bytes, PayloadError>;

    fn poll_next(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Option<Self::Item>> {
        let this = self.get_mut();

        if let Some(chunk) = this.buffered.take() {
            return Poll::Ready(Some(Ok(chunk)));
        }

        let Some(io) = this.io.as_mut() else {
            return Poll::Ready(None);
        };

        let mut buf = [0; 8 * 1024];
        let mut read_buf = ReadBuf::new(&mut buf);

        match ready!(Pin::new(&mut *io).poll_read(cx, &mut read_buf)) {
            Ok(()) if read_buf.filled().is_empty() => {
                io.on_release(false);
                this.io = None;
                Poll::Ready(None)
            }
            Ok(()) => Poll::Ready(Some(Ok(Bytes::copy_from_slice(read_buf.filled())))),
            Err(err) => {
                this.io = None;
                Poll::Ready(Some(Err(err.into())))
            }
        }
    }
}
