#include "amqp_connection.h"

#include <amqp.h>
#include <amqp_tcp_socket.h>
#include <sys/time.h>

#include <cstring>
#include <utility>
#include <vector>

namespace sluice::rabbitmq::detail {
namespace {

constexpr amqp_channel_t kChannel = 1;
// RPCs (declare, bind, qos, ...) and the login get this long before Unavailable.
constexpr int kRpcTimeoutMs = 10'000;

amqp_bytes_t Bytes(const std::string& text) {
  amqp_bytes_t bytes;
  bytes.len = text.size();
  bytes.bytes = const_cast<char*>(text.data());
  return bytes;
}

std::string Text(amqp_bytes_t bytes) {
  return bytes.len == 0 ? std::string()
                        : std::string(static_cast<const char*>(bytes.bytes), bytes.len);
}

timeval TimevalOf(std::chrono::milliseconds timeout) {
  const auto ms = std::max<std::int64_t>(timeout.count(), 0);
  timeval tv;
  tv.tv_sec = static_cast<time_t>(ms / 1000);
  tv.tv_usec = static_cast<suseconds_t>((ms % 1000) * 1000);
  return tv;
}

// Text headers as an AMQP table; `entries` owns the entry array.
amqp_table_t TableOf(const std::map<std::string, std::string>& values,
                     std::vector<amqp_table_entry_t>* entries) {
  entries->clear();
  entries->reserve(values.size());
  for (const auto& [key, value] : values) {
    amqp_table_entry_t entry;
    entry.key = Bytes(key);
    entry.value.kind = AMQP_FIELD_KIND_UTF8;
    entry.value.value.bytes = Bytes(value);
    entries->push_back(entry);
  }
  amqp_table_t table;
  table.num_entries = static_cast<int>(entries->size());
  table.entries = entries->empty() ? nullptr : entries->data();
  return table;
}

// A header value as text; nullopt for nested tables and arrays.
std::optional<std::string> FieldText(const amqp_field_value_t& value) {
  switch (value.kind) {
    case AMQP_FIELD_KIND_UTF8:
    case AMQP_FIELD_KIND_BYTES:
      return Text(value.value.bytes);
    case AMQP_FIELD_KIND_BOOLEAN:
      return std::string(value.value.boolean ? "true" : "false");
    case AMQP_FIELD_KIND_I8:
      return std::to_string(value.value.i8);
    case AMQP_FIELD_KIND_U8:
      return std::to_string(value.value.u8);
    case AMQP_FIELD_KIND_I16:
      return std::to_string(value.value.i16);
    case AMQP_FIELD_KIND_U16:
      return std::to_string(value.value.u16);
    case AMQP_FIELD_KIND_I32:
      return std::to_string(value.value.i32);
    case AMQP_FIELD_KIND_U32:
      return std::to_string(value.value.u32);
    case AMQP_FIELD_KIND_I64:
    case AMQP_FIELD_KIND_TIMESTAMP:
      return std::to_string(value.value.i64);
    case AMQP_FIELD_KIND_U64:
      return std::to_string(value.value.u64);
    case AMQP_FIELD_KIND_F32:
      return std::to_string(value.value.f32);
    case AMQP_FIELD_KIND_F64:
      return std::to_string(value.value.f64);
    default:
      return std::nullopt;
  }
}

AmqpMessage MessageOf(const amqp_basic_properties_t& p, amqp_bytes_t body) {
  AmqpMessage message;
  message.body = Text(body);
  if (p._flags & AMQP_BASIC_CONTENT_TYPE_FLAG) message.content_type = Text(p.content_type);
  if (p._flags & AMQP_BASIC_MESSAGE_ID_FLAG) message.message_id = Text(p.message_id);
  if (p._flags & AMQP_BASIC_TYPE_FLAG) message.type = Text(p.type);
  if (p._flags & AMQP_BASIC_CORRELATION_ID_FLAG) message.correlation_id = Text(p.correlation_id);
  if (p._flags & AMQP_BASIC_TIMESTAMP_FLAG)
    message.timestamp = static_cast<std::int64_t>(p.timestamp);
  message.persistent = (p._flags & AMQP_BASIC_DELIVERY_MODE_FLAG) && p.delivery_mode == 2;
  if (p._flags & AMQP_BASIC_HEADERS_FLAG) {
    for (int i = 0; i < p.headers.num_entries; ++i) {
      const amqp_table_entry_t& entry = p.headers.entries[i];
      if (std::optional<std::string> text = FieldText(entry.value)) {
        message.headers[Text(entry.key)] = std::move(*text);
      }
    }
  }
  return message;
}

}  // namespace

struct AmqpConnection::State {
  amqp_connection_state_t conn = nullptr;
  bool open = false;  // logged in: close politely
  ~State() {
    if (conn == nullptr) return;
    if (open) {
      amqp_channel_close(conn, kChannel, AMQP_REPLY_SUCCESS);
      amqp_connection_close(conn, AMQP_REPLY_SUCCESS);
    }
    amqp_destroy_connection(conn);
  }
};

AmqpConnection::AmqpConnection(AmqpUrl url) : url_(std::move(url)), state_(new State) {}

AmqpConnection::~AmqpConnection() = default;

Result<std::unique_ptr<AmqpConnection>> AmqpConnection::Open(const AmqpUrl& url, std::string name,
                                                             std::chrono::milliseconds timeout) {
  std::unique_ptr<AmqpConnection> self(new AmqpConnection(url));
  State& s = *self->state_;
  s.conn = amqp_new_connection();
  if (s.conn == nullptr) return Status::Unavailable("out of memory for an AMQP connection");
  amqp_socket_t* socket = amqp_tcp_socket_new(s.conn);
  if (socket == nullptr) return Status::Unavailable("cannot create a socket for AMQP");
  const std::string where = url.Redacted();
  timeval connect_timeout = TimevalOf(timeout);
  if (const int rc = amqp_socket_open_noblock(socket, url.host.c_str(), url.port, &connect_timeout);
      rc != AMQP_STATUS_OK) {
    return Status::Unavailable("cannot reach the AMQP broker at " + where + ": " +
                               amqp_error_string2(rc));
  }
  timeval rpc_timeout = TimevalOf(std::chrono::milliseconds(kRpcTimeoutMs));
  amqp_set_handshake_timeout(s.conn, &connect_timeout);
  amqp_set_rpc_timeout(s.conn, &rpc_timeout);

  amqp_table_entry_t property;
  property.key = amqp_cstring_bytes("connection_name");
  property.value.kind = AMQP_FIELD_KIND_UTF8;
  property.value.value.bytes = Bytes(name);
  amqp_table_t properties{1, &property};
  const amqp_rpc_reply_t login =
      amqp_login_with_properties(s.conn, url.vhost.c_str(), 0, 131072, 0, &properties,
                                 AMQP_SASL_METHOD_PLAIN, url.user.c_str(), url.password.c_str());
  if (login.reply_type != AMQP_RESPONSE_NORMAL) {
    if (login.reply_type == AMQP_RESPONSE_SERVER_EXCEPTION &&
        login.reply.id == AMQP_CONNECTION_CLOSE_METHOD) {
      const auto* close = static_cast<const amqp_connection_close_t*>(login.reply.decoded);
      const std::string text = Text(close->reply_text);
      if (close->reply_code == AMQP_ACCESS_REFUSED || close->reply_code == AMQP_NOT_ALLOWED) {
        return Status::InvalidArgument("the AMQP broker at " + where +
                                       " refused the login: " + text);
      }
      return Status::Unavailable("the AMQP broker at " + where + " closed the connection: " + text);
    }
    if (login.reply_type == AMQP_RESPONSE_LIBRARY_EXCEPTION &&
        login.library_error == AMQP_STATUS_CONNECTION_CLOSED) {
      // RabbitMQ closes the socket without a reason on a bad user or password.
      return Status::InvalidArgument("the AMQP broker at " + where +
                                     " refused the login (wrong user or password?)");
    }
    const int error = login.reply_type == AMQP_RESPONSE_LIBRARY_EXCEPTION ? login.library_error : 0;
    return Status::Unavailable("cannot log in to the AMQP broker at " + where + ": " +
                               (error != 0 ? amqp_error_string2(error) : "unexpected reply"));
  }
  s.open = true;
  if (Status st = self->OpenChannel(); !st.ok()) return st;
  return self;
}

Status AmqpConnection::OpenChannel() {
  amqp_channel_open(state_->conn, kChannel);
  if (Status s = Reply("open a channel"); !s.ok()) return s;
  next_tag_ = 1;
  confirmed_ = 0;
  if (confirms_) {
    amqp_confirm_select(state_->conn, kChannel);
    return Reply("enable publisher confirms");
  }
  return Status::Ok();
}

Status AmqpConnection::Broken(const std::string& why) {
  broken_ = true;
  state_->open = false;
  return Status::Unavailable("lost the AMQP connection to " + url_.Redacted() + ": " + why);
}

Status AmqpConnection::Library(int error, const char* what) {
  if (error == AMQP_STATUS_TIMEOUT) {
    return Status::Unavailable(std::string("timed out: ") + what + " on " + url_.Redacted());
  }
  return Broken(std::string(what) + ": " + amqp_error_string2(error));
}

Status AmqpConnection::ChannelClosed(int code, const std::string& text, const char* what) {
  amqp_channel_close_ok_t ok{};
  amqp_send_method(state_->conn, kChannel, AMQP_CHANNEL_CLOSE_OK_METHOD, &ok);
  std::string message = std::string(what) + " on " + url_.Redacted() + ": " + text;
  if (Status reopened = OpenChannel(); !reopened.ok()) return reopened;
  if (code == AMQP_NOT_FOUND) return Status::NotFound(message);
  if (code == AMQP_ACCESS_REFUSED || code == AMQP_PRECONDITION_FAILED || code == AMQP_NOT_ALLOWED) {
    return Status::InvalidArgument(message);
  }
  return Status::Unavailable(message);
}

Status AmqpConnection::Reply(const char* what) {
  if (broken_) return Broken("used after the connection was lost");
  const amqp_rpc_reply_t reply = amqp_get_rpc_reply(state_->conn);
  switch (reply.reply_type) {
    case AMQP_RESPONSE_NORMAL:
      return Status::Ok();
    case AMQP_RESPONSE_LIBRARY_EXCEPTION:
      return Library(reply.library_error, what);
    case AMQP_RESPONSE_SERVER_EXCEPTION:
      if (reply.reply.id == AMQP_CHANNEL_CLOSE_METHOD) {
        const auto* close = static_cast<const amqp_channel_close_t*>(reply.reply.decoded);
        return ChannelClosed(close->reply_code, Text(close->reply_text), what);
      }
      if (reply.reply.id == AMQP_CONNECTION_CLOSE_METHOD) {
        const auto* close = static_cast<const amqp_connection_close_t*>(reply.reply.decoded);
        amqp_connection_close_ok_t ok{};
        amqp_send_method(state_->conn, 0, AMQP_CONNECTION_CLOSE_OK_METHOD, &ok);
        return Broken(std::string(what) +
                      ": the broker closed the connection: " + Text(close->reply_text));
      }
      return Broken(std::string(what) + ": unexpected reply from the broker");
    default:
      return Broken(std::string(what) + ": no reply");
  }
}

Status AmqpConnection::DeclareExchange(const std::string& name, const std::string& type,
                                       bool durable) {
  if (broken_) return Broken("used after the connection was lost");
  amqp_exchange_declare(state_->conn, kChannel, Bytes(name), Bytes(type), 0, durable ? 1 : 0, 0, 0,
                        amqp_empty_table);
  return Reply(("declare exchange '" + name + "'").c_str());
}

Result<std::uint32_t> AmqpConnection::DeclareQueue(const std::string& name,
                                                   const QueueOptions& options, bool passive) {
  if (broken_) return Broken("used after the connection was lost");
  std::vector<amqp_table_entry_t> entries;
  const amqp_table_t arguments = TableOf(options.arguments, &entries);
  amqp_queue_declare_ok_t* ok = amqp_queue_declare(
      state_->conn, kChannel, Bytes(name), passive ? 1 : 0, options.durable ? 1 : 0,
      options.exclusive ? 1 : 0, options.auto_delete ? 1 : 0, arguments);
  const std::string what = (passive ? "find queue '" : "declare queue '") + name + "'";
  if (Status s = Reply(what.c_str()); !s.ok()) return s;
  return ok != nullptr ? ok->message_count : 0;
}

Status AmqpConnection::BindQueue(const std::string& queue, const std::string& exchange,
                                 const std::string& routing_key) {
  if (broken_) return Broken("used after the connection was lost");
  amqp_queue_bind(state_->conn, kChannel, Bytes(queue), Bytes(exchange), Bytes(routing_key),
                  amqp_empty_table);
  return Reply(("bind queue '" + queue + "' to exchange '" + exchange + "'").c_str());
}

Status AmqpConnection::DeleteQueue(const std::string& name) {
  if (broken_) return Broken("used after the connection was lost");
  amqp_queue_delete(state_->conn, kChannel, Bytes(name), 0, 0);
  return Reply(("delete queue '" + name + "'").c_str());
}

Status AmqpConnection::DeleteExchange(const std::string& name) {
  if (broken_) return Broken("used after the connection was lost");
  amqp_exchange_delete(state_->conn, kChannel, Bytes(name), 0);
  return Reply(("delete exchange '" + name + "'").c_str());
}

Status AmqpConnection::PurgeQueue(const std::string& name) {
  if (broken_) return Broken("used after the connection was lost");
  amqp_queue_purge(state_->conn, kChannel, Bytes(name));
  return Reply(("purge queue '" + name + "'").c_str());
}

Status AmqpConnection::EnableConfirms() {
  if (broken_) return Broken("used after the connection was lost");
  if (confirms_) return Status::Ok();
  amqp_confirm_select(state_->conn, kChannel);
  if (Status s = Reply("enable publisher confirms"); !s.ok()) return s;
  confirms_ = true;
  return Status::Ok();
}

Result<std::uint64_t> AmqpConnection::Publish(const std::string& exchange,
                                              const std::string& routing_key,
                                              const AmqpMessage& message, bool mandatory) {
  if (broken_) return Broken("used after the connection was lost");
  amqp_basic_properties_t p;
  std::memset(&p, 0, sizeof p);
  p._flags = AMQP_BASIC_DELIVERY_MODE_FLAG;
  p.delivery_mode = message.persistent ? 2 : 1;
  if (!message.content_type.empty()) {
    p._flags |= AMQP_BASIC_CONTENT_TYPE_FLAG;
    p.content_type = Bytes(message.content_type);
  }
  if (!message.message_id.empty()) {
    p._flags |= AMQP_BASIC_MESSAGE_ID_FLAG;
    p.message_id = Bytes(message.message_id);
  }
  if (!message.type.empty()) {
    p._flags |= AMQP_BASIC_TYPE_FLAG;
    p.type = Bytes(message.type);
  }
  if (!message.correlation_id.empty()) {
    p._flags |= AMQP_BASIC_CORRELATION_ID_FLAG;
    p.correlation_id = Bytes(message.correlation_id);
  }
  if (message.timestamp != 0) {
    p._flags |= AMQP_BASIC_TIMESTAMP_FLAG;
    p.timestamp = static_cast<uint64_t>(message.timestamp);
  }
  std::vector<amqp_table_entry_t> entries;
  if (!message.headers.empty()) {
    p._flags |= AMQP_BASIC_HEADERS_FLAG;
    p.headers = TableOf(message.headers, &entries);
  }
  const int rc = amqp_basic_publish(state_->conn, kChannel, Bytes(exchange), Bytes(routing_key),
                                    mandatory ? 1 : 0, 0, &p, Bytes(message.body));
  if (rc != AMQP_STATUS_OK) return Library(rc, "publish");
  return confirms_ ? next_tag_++ : 0;
}

Status AmqpConnection::HandleFrame(const void* raw, const char* what) {
  const auto& frame = *static_cast<const amqp_frame_t*>(raw);
  if (frame.frame_type != AMQP_FRAME_METHOD) return Status::Ok();  // stray content: skip
  switch (frame.payload.method.id) {
    case AMQP_BASIC_ACK_METHOD: {
      const auto* ack = static_cast<const amqp_basic_ack_t*>(frame.payload.method.decoded);
      // `multiple`: every tag up to this one. Single acks may come out of order; the broker acks
      // in order in practice (one channel), so the highest is kept.
      if (ack->delivery_tag > confirmed_) confirmed_ = ack->delivery_tag;
      return Status::Ok();
    }
    case AMQP_BASIC_NACK_METHOD: {
      const auto* nack = static_cast<const amqp_basic_nack_t*>(frame.payload.method.decoded);
      nacked_ = "the broker nacked publish " + std::to_string(nack->delivery_tag) +
                " (it could not store the message)";
      if (nack->delivery_tag > confirmed_) confirmed_ = nack->delivery_tag;
      return Status::Ok();
    }
    case AMQP_BASIC_RETURN_METHOD: {
      amqp_message_t returned;
      const amqp_rpc_reply_t reply = amqp_read_message(state_->conn, kChannel, &returned, 0);
      if (reply.reply_type != AMQP_RESPONSE_NORMAL) return Reply(what);
      amqp_destroy_message(&returned);
      ++returned_;
      return Status::Ok();
    }
    case AMQP_BASIC_CANCEL_METHOD:
      cancelled_ = true;
      return Status::Ok();
    case AMQP_CHANNEL_CLOSE_METHOD: {
      const auto* close = static_cast<const amqp_channel_close_t*>(frame.payload.method.decoded);
      return ChannelClosed(close->reply_code, Text(close->reply_text), what);
    }
    case AMQP_CONNECTION_CLOSE_METHOD: {
      const auto* close = static_cast<const amqp_connection_close_t*>(frame.payload.method.decoded);
      amqp_connection_close_ok_t ok{};
      amqp_send_method(state_->conn, 0, AMQP_CONNECTION_CLOSE_OK_METHOD, &ok);
      return Broken(std::string(what) +
                    ": the broker closed the connection: " + Text(close->reply_text));
    }
    default:
      return Status::Ok();
  }
}

Status AmqpConnection::WaitForConfirms(std::uint64_t tag, std::chrono::milliseconds timeout) {
  if (broken_) return Broken("used after the connection was lost");
  if (!confirms_) return Status::InvalidArgument("publisher confirms are not enabled");
  const auto deadline = std::chrono::steady_clock::now() + timeout;
  while (confirmed_ < tag) {
    const auto left = std::chrono::duration_cast<std::chrono::milliseconds>(
        deadline - std::chrono::steady_clock::now());
    if (left.count() <= 0) {
      return Status::Unavailable("timed out waiting for the broker at " + url_.Redacted() +
                                 " to confirm publish " + std::to_string(tag));
    }
    timeval tv = TimevalOf(left);
    amqp_frame_t frame;
    const int rc = amqp_simple_wait_frame_noblock(state_->conn, &frame, &tv);
    if (rc != AMQP_STATUS_OK) return Library(rc, "wait for publisher confirms");
    if (Status s = HandleFrame(&frame, "wait for publisher confirms"); !s.ok()) return s;
    amqp_maybe_release_buffers(state_->conn);
  }
  if (!nacked_.empty()) {
    std::string why = std::move(nacked_);
    nacked_.clear();
    return Status::Unavailable(why);
  }
  return Status::Ok();
}

Status AmqpConnection::Qos(std::uint16_t prefetch) {
  if (broken_) return Broken("used after the connection was lost");
  amqp_basic_qos(state_->conn, kChannel, 0, prefetch, 0);
  return Reply("set the prefetch count");
}

Result<std::string> AmqpConnection::Consume(const std::string& queue, bool exclusive) {
  if (broken_) return Broken("used after the connection was lost");
  amqp_basic_consume_ok_t* ok =
      amqp_basic_consume(state_->conn, kChannel, Bytes(queue), amqp_empty_bytes, 0, 0,
                         exclusive ? 1 : 0, amqp_empty_table);
  if (Status s = Reply(("consume queue '" + queue + "'").c_str()); !s.ok()) return s;
  cancelled_ = false;
  return ok != nullptr ? Text(ok->consumer_tag) : std::string();
}

Status AmqpConnection::Cancel(const std::string& consumer_tag) {
  if (broken_) return Broken("used after the connection was lost");
  amqp_basic_cancel(state_->conn, kChannel, Bytes(consumer_tag));
  return Reply("cancel a consumer");
}

Result<std::optional<AmqpDelivery>> AmqpConnection::Next(std::chrono::milliseconds timeout) {
  if (broken_) return Broken("used after the connection was lost");
  const auto deadline = std::chrono::steady_clock::now() + timeout;
  for (;;) {
    if (cancelled_) {
      return Status::Unavailable("the broker at " + url_.Redacted() +
                                 " cancelled the consumer (queue deleted?)");
    }
    amqp_maybe_release_buffers(state_->conn);
    const auto left = std::chrono::duration_cast<std::chrono::milliseconds>(
        deadline - std::chrono::steady_clock::now());
    timeval tv = TimevalOf(std::max(left, std::chrono::milliseconds(0)));
    amqp_envelope_t envelope;
    const amqp_rpc_reply_t reply = amqp_consume_message(state_->conn, &envelope, &tv, 0);
    if (reply.reply_type == AMQP_RESPONSE_NORMAL) {
      AmqpDelivery delivery;
      delivery.message = MessageOf(envelope.message.properties, envelope.message.body);
      delivery.exchange = Text(envelope.exchange);
      delivery.routing_key = Text(envelope.routing_key);
      delivery.delivery_tag = envelope.delivery_tag;
      delivery.redelivered = envelope.redelivered != 0;
      amqp_destroy_envelope(&envelope);
      return std::optional<AmqpDelivery>(std::move(delivery));
    }
    if (reply.reply_type == AMQP_RESPONSE_LIBRARY_EXCEPTION &&
        reply.library_error == AMQP_STATUS_TIMEOUT) {
      return std::optional<AmqpDelivery>();
    }
    if (reply.reply_type == AMQP_RESPONSE_LIBRARY_EXCEPTION &&
        reply.library_error == AMQP_STATUS_UNEXPECTED_STATE) {
      // A frame that is not a delivery: read and handle it.
      amqp_frame_t frame;
      timeval now{0, 0};
      const int rc = amqp_simple_wait_frame_noblock(state_->conn, &frame, &now);
      if (rc == AMQP_STATUS_TIMEOUT) continue;
      if (rc != AMQP_STATUS_OK) return Library(rc, "receive a message");
      if (Status s = HandleFrame(&frame, "receive a message"); !s.ok()) return s;
      continue;
    }
    if (reply.reply_type == AMQP_RESPONSE_LIBRARY_EXCEPTION) {
      return Library(reply.library_error, "receive a message");
    }
    return Broken("receive a message: unexpected reply");
  }
}

Result<std::optional<AmqpDelivery>> AmqpConnection::Get(const std::string& queue) {
  if (broken_) return Broken("used after the connection was lost");
  amqp_maybe_release_buffers(state_->conn);
  const amqp_rpc_reply_t reply = amqp_basic_get(state_->conn, kChannel, Bytes(queue), 0);
  if (reply.reply_type != AMQP_RESPONSE_NORMAL) {
    return Reply(("get a message from queue '" + queue + "'").c_str());
  }
  if (reply.reply.id == AMQP_BASIC_GET_EMPTY_METHOD) return std::optional<AmqpDelivery>();
  const auto* ok = static_cast<const amqp_basic_get_ok_t*>(reply.reply.decoded);
  AmqpDelivery delivery;
  delivery.exchange = Text(ok->exchange);
  delivery.routing_key = Text(ok->routing_key);
  delivery.delivery_tag = ok->delivery_tag;
  delivery.redelivered = ok->redelivered != 0;
  amqp_message_t message;
  const amqp_rpc_reply_t read = amqp_read_message(state_->conn, kChannel, &message, 0);
  if (read.reply_type != AMQP_RESPONSE_NORMAL) {
    return Reply(("read a message from queue '" + queue + "'").c_str());
  }
  delivery.message = MessageOf(message.properties, message.body);
  amqp_destroy_message(&message);
  return std::optional<AmqpDelivery>(std::move(delivery));
}

Status AmqpConnection::Ack(std::uint64_t delivery_tag, bool multiple) {
  if (broken_) return Broken("used after the connection was lost");
  const int rc = amqp_basic_ack(state_->conn, kChannel, delivery_tag, multiple ? 1 : 0);
  return rc == AMQP_STATUS_OK ? Status::Ok() : Library(rc, "acknowledge a message");
}

Status AmqpConnection::Nack(std::uint64_t delivery_tag, bool requeue, bool multiple) {
  if (broken_) return Broken("used after the connection was lost");
  const int rc =
      amqp_basic_nack(state_->conn, kChannel, delivery_tag, multiple ? 1 : 0, requeue ? 1 : 0);
  return rc == AMQP_STATUS_OK ? Status::Ok() : Library(rc, "reject a message");
}

}  // namespace sluice::rabbitmq::detail
