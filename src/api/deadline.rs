//! The body deadline: a request's whole body must arrive within
//! `[server] body_read_timeout_secs` of its head, on every route baton
//! registers (REST, the agent-coordinate-mcp routes, `/mcp`, the 405 and
//! 404 answers, a follower's proxy, and `baton serve`'s 404 for a path no
//! route matches).
//!
//! `BodyDeadline` is one middleware, wrapped around each resource where
//! the routes are registered ([`super::routes`], `/mcp` in
//! [`crate::Runtime::configure`], the follower's routes in
//! [`crate::serve::proxy`]): it hands the handler the request's body as a
//! stream that fails once the deadline passes while it waits for more
//! bytes, and then answers **408 `body_timeout`** in the route's error
//! shape ([`super::error::status_of`] maps the code), with `Connection:
//! close`. Without it, a client that sends a full request head announcing
//! 100 kB and then 10 bytes every 2 s held its connection (and its file
//! descriptor) for ever: actix-web bounds the time to send a head (5 s),
//! not a body.
//!
//! A response given while the body is still unfinished (a 401 before the
//! body is read, a 405, a 408) closes the connection afterwards: the
//! unread body is kept open until the response is written, so actix-web
//! does not drain it (it drains an unread *chunked* body to its end, at
//! whatever pace the client sends it, before reading the next request).
//! Requests without a body pass through untouched.

use std::cell::{Cell, RefCell};
use std::future::Future;
use std::pin::Pin;
use std::rc::Rc;
use std::task::{Context, Poll};
use std::time::Duration;

use actix_web::body::{BodySize, BoxBody, EitherBody, MessageBody};
use actix_web::dev::{forward_ready, Payload, Service, ServiceRequest, ServiceResponse, Transform};
use actix_web::error::PayloadError;
use actix_web::http::header::{self, HeaderMap};
use actix_web::http::ConnectionType;
use actix_web::{HttpMessage, HttpResponse};
use bytes::Bytes;
use futures_util::future::LocalBoxFuture;
use futures_util::Stream;
use tokio::time::{Instant, Sleep};

use super::routes::Shape;
use super::ApiError;

/// The deadline one registration applies: how long a body may take, and
/// the shape its 408 is written in.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct BodyDeadline {
    /// `[server] body_read_timeout_secs`.
    pub(crate) timeout: Duration,
    /// baton's `{"error": ..}` or agent-coordinate-mcp's `{success: false, ..}`.
    pub(crate) shape: Shape,
}

impl BodyDeadline {
    /// The deadline of `secs` seconds, answered in baton's error shape.
    pub(crate) fn secs(secs: u64) -> Self {
        Self {
            timeout: Duration::from_secs(secs),
            shape: Shape::Baton,
        }
    }

    /// The same deadline answered in `shape`.
    pub(crate) fn in_shape(self, shape: Shape) -> Self {
        Self { shape, ..self }
    }
}

/// What the middleware and the handler's body stream share.
struct Body {
    /// The request's own body, as actix-web hands it over.
    payload: RefCell<Payload>,
    /// The body ended (or failed) before the deadline.
    done: Cell<bool>,
    /// The deadline passed while the handler waited for more of the body.
    timed_out: Cell<bool>,
}

/// The body stream a handler reads: the request's body until the deadline.
struct Timed {
    body: Rc<Body>,
    until: Instant,
    /// Armed the first time the handler has to wait for bytes.
    sleep: Option<Pin<Box<Sleep>>>,
}

impl Stream for Timed {
    type Item = Result<Bytes, PayloadError>;

    fn poll_next(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Option<Self::Item>> {
        let this = self.get_mut();
        if this.body.done.get() || this.body.timed_out.get() {
            return Poll::Ready(None);
        }
        let polled = Pin::new(&mut *this.body.payload.borrow_mut()).poll_next(cx);
        match polled {
            Poll::Ready(Some(Ok(chunk))) => Poll::Ready(Some(Ok(chunk))),
            Poll::Ready(end) => {
                this.body.done.set(true);
                Poll::Ready(end)
            }
            Poll::Pending => {
                let until = this.until;
                let sleep = this
                    .sleep
                    .get_or_insert_with(|| Box::pin(tokio::time::sleep_until(until)));
                match sleep.as_mut().poll(cx) {
                    Poll::Pending => Poll::Pending,
                    Poll::Ready(()) => {
                        this.body.timed_out.set(true);
                        Poll::Ready(Some(Err(PayloadError::Io(std::io::Error::new(
                            std::io::ErrorKind::TimedOut,
                            "the request body did not arrive before the deadline",
                        )))))
                    }
                }
            }
        }
    }
}

/// A response body that keeps the request's unfinished body open until the
/// response is written, so actix-web closes the connection after it
/// instead of draining the rest (see the module docs).
pub(crate) struct HeldBody {
    body: BoxBody,
    _request_body: Rc<Body>,
}

impl std::fmt::Debug for HeldBody {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("HeldBody").finish_non_exhaustive()
    }
}

impl MessageBody for HeldBody {
    type Error = <BoxBody as MessageBody>::Error;

    fn size(&self) -> BodySize {
        self.body.size()
    }

    fn poll_next(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
    ) -> Poll<Option<Result<Bytes, Self::Error>>> {
        Pin::new(&mut self.body).poll_next(cx)
    }
}

/// Whether the request announces a body (`Transfer-Encoding`, or a
/// `Content-Length` above 0).
fn announces_body(headers: &HeaderMap) -> bool {
    headers.contains_key(header::TRANSFER_ENCODING)
        || headers
            .get(header::CONTENT_LENGTH)
            .and_then(|v| v.to_str().ok())
            .and_then(|v| v.trim().parse::<u64>().ok())
            .is_some_and(|n| n > 0)
}

impl<S, B> Transform<S, ServiceRequest> for BodyDeadline
where
    S: Service<ServiceRequest, Response = ServiceResponse<B>, Error = actix_web::Error> + 'static,
    B: MessageBody + 'static,
{
    type Response = ServiceResponse<EitherBody<B, HeldBody>>;
    type Error = actix_web::Error;
    type Transform = DeadlineService<S>;
    type InitError = ();
    type Future = std::future::Ready<Result<Self::Transform, Self::InitError>>;

    fn new_transform(&self, service: S) -> Self::Future {
        std::future::ready(Ok(DeadlineService {
            service: Rc::new(service),
            deadline: *self,
        }))
    }
}

/// [`BodyDeadline`] around a service (see the module docs).
pub(crate) struct DeadlineService<S> {
    service: Rc<S>,
    deadline: BodyDeadline,
}

impl<S, B> Service<ServiceRequest> for DeadlineService<S>
where
    S: Service<ServiceRequest, Response = ServiceResponse<B>, Error = actix_web::Error> + 'static,
    B: MessageBody + 'static,
{
    type Response = ServiceResponse<EitherBody<B, HeldBody>>;
    type Error = actix_web::Error;
    type Future = LocalBoxFuture<'static, Result<Self::Response, Self::Error>>;

    forward_ready!(service);

    fn call(&self, req: ServiceRequest) -> Self::Future {
        let service = self.service.clone();
        let deadline = self.deadline;
        Box::pin(async move {
            if announces_body(req.headers()) {
                within_deadline(deadline, req, service).await
            } else {
                Ok(service.call(req).await?.map_into_left_body())
            }
        })
    }
}

/// Serve `req`, whose head announced a body, handing `service` the body
/// as a stream bounded by `deadline`; 408 when it passed.
///
/// Errors: `service`'s own (an error, rather than an error response,
/// passes as it is).
async fn within_deadline<S, B>(
    deadline: BodyDeadline,
    mut req: ServiceRequest,
    service: Rc<S>,
) -> Result<ServiceResponse<EitherBody<B, HeldBody>>, actix_web::Error>
where
    S: Service<ServiceRequest, Response = ServiceResponse<B>, Error = actix_web::Error>,
    B: MessageBody + 'static,
{
    let body = Rc::new(Body {
        payload: RefCell::new(req.take_payload()),
        done: Cell::new(false),
        timed_out: Cell::new(false),
    });
    let timed = Timed {
        body: body.clone(),
        until: Instant::now() + deadline.timeout,
        sleep: None,
    };
    let boxed: Pin<Box<dyn Stream<Item = Result<Bytes, PayloadError>>>> = Box::pin(timed);
    req.set_payload(Payload::from(boxed));
    // (the request cannot be cloned before routing: a service error passes as it is)
    let res = service.call(req).await?;
    let hold = |res: HttpResponse<BoxBody>, body: Rc<Body>| {
        res.map_body(|_, b| {
            EitherBody::right(HeldBody {
                body: b,
                _request_body: body,
            })
        })
    };
    if body.done.get() {
        return Ok(res.map_into_left_body());
    }
    let (request, out) = res.into_parts();
    let out = if body.timed_out.get() {
        tracing::warn!(
            method = %request.method(),
            path = request.path(),
            peer = ?request.peer_addr(),
            timeout_secs = deadline.timeout.as_secs(),
            "request body timed out; answered 408 and closing the connection"
        );
        let mut out = deadline
            .shape
            .respond(&ApiError::BodyTimeout(deadline.timeout.as_secs()));
        out.head_mut().set_connection_type(ConnectionType::Close);
        out
    } else {
        // answered before the body ended (a 401, a 405): closed after it
        out.map_into_boxed_body()
    };
    Ok(ServiceResponse::new(request, hold(out, body)))
}
