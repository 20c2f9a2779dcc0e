"""Events over NATS JetStream: the envelope, streams, the transactional outbox, consumers, request/reply."""

from libs.events.connection import NatsConnection, connect_nats
from libs.events.consumer import Consumer, Delivery, PoisonMessage, TransientError, list_dead_letters
from libs.events.envelope import Envelope, new_event
from libs.events.outbox import OutboxRelay, enqueue_event
from libs.events.rpc import RpcError, RpcReply, RpcServer, RpcUnavailable, request
from libs.events.streams import StreamSpec, ensure_stream

__all__ = [
    "Consumer",
    "Delivery",
    "Envelope",
    "NatsConnection",
    "OutboxRelay",
    "PoisonMessage",
    "RpcError",
    "RpcReply",
    "RpcServer",
    "RpcUnavailable",
    "StreamSpec",
    "TransientError",
    "connect_nats",
    "enqueue_event",
    "ensure_stream",
    "list_dead_letters",
    "new_event",
    "request",
]
