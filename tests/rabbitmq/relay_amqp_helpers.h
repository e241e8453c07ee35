// What the relay tests share: a consumer that drains a queue through the private AMQP connection,
// and a raw rabbitmq-c declaration of a queue with integer arguments (a bounded queue that rejects
// publishes when full, so the broker nacks them), which AmqpConnection's text arguments cannot
// express.
#pragma once

#include <amqp.h>
#include <amqp_tcp_socket.h>
#include <gtest/gtest.h>

#include <memory>
#include <string>
#include <vector>

#include "amqp_connection.h"
#include "sluice/rabbitmq/amqp_message.h"
#include "sluice/rabbitmq/amqp_url.h"

namespace sluice::rabbitmq::relay_testing {

// Every message in `queue` now (basic.get until empty), acknowledged.
inline std::vector<AmqpDelivery> Drain(detail::AmqpConnection& conn, const std::string& queue) {
  std::vector<AmqpDelivery> out;
  for (;;) {
    Result<std::optional<AmqpDelivery>> got = conn.Get(queue);
    EXPECT_TRUE(got.ok()) << got.status().ToString();
    if (!got.ok() || !got->has_value()) return out;
    EXPECT_TRUE(conn.Ack((*got)->delivery_tag).ok());
    out.push_back(std::move(**got));
  }
}

// Declares `queue` (not durable) holding at most `max_length` messages and refusing publishes
// beyond (x-overflow reject-publish: publishers with confirms get a nack), bound to `exchange`
// with `binding`. False (with a test failure) on any error.
inline bool DeclareBoundedQueue(const AmqpUrl& url, const std::string& queue,
                                const std::string& exchange, const std::string& binding,
                                int max_length) {
  amqp_connection_state_t conn = amqp_new_connection();
  amqp_socket_t* socket = amqp_tcp_socket_new(conn);
  bool ok = socket != nullptr && amqp_socket_open(socket, url.host.c_str(), url.port) == 0;
  ok = ok && amqp_login(conn, url.vhost.c_str(), 0, 131072, 0, AMQP_SASL_METHOD_PLAIN,
                        url.user.c_str(), url.password.c_str())
                     .reply_type == AMQP_RESPONSE_NORMAL;
  if (ok) {
    amqp_channel_open(conn, 1);
    ok = amqp_get_rpc_reply(conn).reply_type == AMQP_RESPONSE_NORMAL;
  }
  if (ok) {
    amqp_table_entry_t entries[2];
    entries[0].key = amqp_cstring_bytes("x-max-length");
    entries[0].value.kind = AMQP_FIELD_KIND_I32;
    entries[0].value.value.i32 = max_length;
    entries[1].key = amqp_cstring_bytes("x-overflow");
    entries[1].value.kind = AMQP_FIELD_KIND_UTF8;
    entries[1].value.value.bytes = amqp_cstring_bytes("reject-publish");
    amqp_table_t arguments{2, entries};
    amqp_queue_declare(conn, 1, amqp_cstring_bytes(queue.c_str()), 0, 0, 0, 0, arguments);
    ok = amqp_get_rpc_reply(conn).reply_type == AMQP_RESPONSE_NORMAL;
  }
  if (ok) {
    amqp_queue_bind(conn, 1, amqp_cstring_bytes(queue.c_str()),
                    amqp_cstring_bytes(exchange.c_str()), amqp_cstring_bytes(binding.c_str()),
                    amqp_empty_table);
    ok = amqp_get_rpc_reply(conn).reply_type == AMQP_RESPONSE_NORMAL;
  }
  if (ok) {
    amqp_channel_close(conn, 1, AMQP_REPLY_SUCCESS);
    amqp_connection_close(conn, AMQP_REPLY_SUCCESS);
  }
  amqp_destroy_connection(conn);
  EXPECT_TRUE(ok) << "cannot declare the bounded queue " << queue;
  return ok;
}

}  // namespace sluice::rabbitmq::relay_testing
