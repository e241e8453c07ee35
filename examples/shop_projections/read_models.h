// Two read models of the shop (examples/shopping_cart/cart.h), each built by a projection from
// the cart events:
//
//   order-summary  table "orders", one row per cart: order_id (key), items, item_count,
//                  total_cents, status ("open" or "ordered"). Meant for SQLite, where anyone can
//                  SELECT * FROM orders.
//   product-sales  table "product-sales", one row per product sold: sku (key), units_sold,
//                  revenue_cents; counted when a cart is checked out. It keeps what it needs to
//                  know at checkout in a second table, "open-carts" (cart -> items).
//
// A projection keeps its state in its read model only, and ReadModelTransaction reads rows by key
// (no scans): so a cart's lines live in one text cell, "apple:2:45 bread:1:220" (sku:quantity:
// unit price in cents), folded with the aggregate's own Cart::Evolve.
//
// product-sales carries a deliberate bug for the demo: while `*fixed` is false, its
// CartCheckedOut handler fails for orders holding a gift card. The worker retries, then parks the
// event; once the flag is set, ReplayParked applies it (see main.cc).
#pragma once

#include <algorithm>
#include <atomic>
#include <charconv>
#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <variant>

#include "examples/shopping_cart/cart.h"
#include "sluice/core/event.h"
#include "sluice/core/event_type_registry.h"
#include "sluice/core/status.h"
#include "sluice/projections/projection.h"
#include "sluice/projections/read_model_store.h"
#include "sluice/projections/table.h"

namespace shop_read_models {

using sluice::ColumnType;
using sluice::ReadModelTransaction;
using sluice::RecordedEvent;
using sluice::Result;
using sluice::Status;

inline constexpr std::string_view kGiftCard = "gift-card";

// "cart-alice-1a2b" -> "alice-1a2b".
inline std::string CartIdOf(const std::string& stream) {
  const std::size_t dash = stream.find('-');
  return dash == std::string::npos ? stream : stream.substr(dash + 1);
}

// ---------------------------------------------------------------------------------------------
// A cart's lines as one text cell.

inline std::string EncodeLines(const shop::Cart::State& cart) {
  std::string text;
  for (const auto& [sku, line] : cart.lines) {
    if (!text.empty()) text += ' ';
    text += sku + ':' + std::to_string(line.quantity) + ':' + std::to_string(line.unit_price_cents);
  }
  return text;
}

// A number that is all of `text`.
inline bool ParseInt(std::string_view text, std::int64_t* value) {
  const char* end = text.data() + text.size();
  return !text.empty() && std::from_chars(text.data(), end, *value).ptr == end;
}

inline Result<shop::Cart::State> DecodeLines(std::string_view text) {
  shop::Cart::State cart;
  while (!text.empty()) {
    const std::string_view item = text.substr(0, text.find(' '));
    text.remove_prefix(std::min(item.size() + 1, text.size()));
    const std::size_t price_at = item.rfind(':');
    const std::size_t quantity_at = price_at == std::string_view::npos || price_at == 0
                                        ? price_at
                                        : item.rfind(':', price_at - 1);
    shop::Cart::Line line;
    if (quantity_at == std::string_view::npos || quantity_at == 0 ||
        !ParseInt(item.substr(quantity_at + 1, price_at - quantity_at - 1), &line.quantity) ||
        !ParseInt(item.substr(price_at + 1), &line.unit_price_cents)) {
      return Status::Corruption("bad cart line '" + std::string(item) + "'");
    }
    cart.lines[std::string(item.substr(0, quantity_at))] = line;
  }
  return cart;
}

inline std::int64_t ItemCount(const shop::Cart::State& cart) {
  std::int64_t count = 0;
  for (const auto& [sku, line] : cart.lines) count += line.quantity;
  return count;
}

inline std::int64_t TotalCents(const shop::Cart::State& cart) {
  std::int64_t total = 0;
  for (const auto& [sku, line] : cart.lines) total += line.quantity * line.unit_price_cents;
  return total;
}

// The cart kept in `table` (key: cart id, then a text column of lines), or an empty one.
inline Result<shop::Cart::State> LoadCart(ReadModelTransaction& tx, std::string_view table,
                                          const std::string& cart_id, std::size_t lines_column) {
  Result<std::optional<sluice::Row>> row = tx.Get(table, {cart_id});
  if (!row.ok()) return row.status();
  if (!row->has_value()) return shop::Cart::State{};
  const auto* text = std::get_if<std::string>(&(**row)[lines_column]);
  if (text == nullptr) return Status::Corruption("no lines in " + std::string(table));
  return DecodeLines(*text);
}

// ---------------------------------------------------------------------------------------------
// order-summary

// The `orders` row of a cart, as the order summary shows it.
inline sluice::Row OrderRow(const std::string& order_id, const shop::Cart::State& cart) {
  return {order_id, EncodeLines(cart), ItemCount(cart), TotalCents(cart),
          std::string(cart.checked_out ? "ordered" : "open")};
}

inline Result<std::shared_ptr<sluice::Projection>> NewOrderSummary(
    std::shared_ptr<const sluice::EventTypeRegistry> registry) {
  // Every cart event changes the order's row the way it changes the cart.
  auto update = [](const auto& event, const RecordedEvent& recorded, ReadModelTransaction& tx) {
    const std::string id = CartIdOf(recorded.stream);
    Result<shop::Cart::State> cart = LoadCart(tx, "orders", id, /*lines_column=*/1);
    if (!cart.ok()) return cart.status();
    return tx.Put("orders", OrderRow(id, shop::Cart::Evolve(std::move(*cart), event)));
  };
  return sluice::ProjectionBuilder("order-summary", std::move(registry))
      .Table({"orders",
              {{"order_id", ColumnType::kText}},
              {{"items", ColumnType::kText},
               {"item_count", ColumnType::kInteger},
               {"total_cents", ColumnType::kInteger},
               {"status", ColumnType::kText}}})
      .On<shop::ItemAdded>(update)
      .On<shop::ItemRemoved>(update)
      .On<shop::CartCheckedOut>(update)
      .Build();
}

// ---------------------------------------------------------------------------------------------
// product-sales

inline Result<std::shared_ptr<sluice::Projection>> NewProductSales(
    std::shared_ptr<const sluice::EventTypeRegistry> registry,
    std::shared_ptr<const std::atomic<bool>> fixed) {
  // Items going in and out of a cart only change what the cart holds.
  auto track = [](const auto& event, const RecordedEvent& recorded, ReadModelTransaction& tx) {
    const std::string id = CartIdOf(recorded.stream);
    Result<shop::Cart::State> cart = LoadCart(tx, "open-carts", id, /*lines_column=*/1);
    if (!cart.ok()) return cart.status();
    return tx.Put("open-carts", {id, EncodeLines(shop::Cart::Evolve(std::move(*cart), event))});
  };
  // A checkout sells every line of the cart.
  auto sell = [fixed](const shop::CartCheckedOut&, const RecordedEvent& recorded,
                      ReadModelTransaction& tx) -> Status {
    const std::string id = CartIdOf(recorded.stream);
    Result<shop::Cart::State> cart = LoadCart(tx, "open-carts", id, /*lines_column=*/1);
    if (!cart.ok()) return cart.status();
    if (!fixed->load() && cart->lines.contains(std::string(kGiftCard))) {
      return Status::InvalidArgument("no product record for gift-card (the bug)");
    }
    for (const auto& [sku, line] : cart->lines) {
      Result<std::optional<sluice::Row>> row = tx.Get("product-sales", {sku});
      if (!row.ok()) return row.status();
      std::int64_t units = line.quantity;
      std::int64_t revenue = line.quantity * line.unit_price_cents;
      if (row->has_value()) {
        units += std::get<std::int64_t>((**row)[1]);
        revenue += std::get<std::int64_t>((**row)[2]);
      }
      SLUICE_RETURN_IF_ERROR(tx.Put("product-sales", {sku, units, revenue}));
    }
    return tx.Delete("open-carts", {id});
  };
  return sluice::ProjectionBuilder("product-sales", std::move(registry))
      .Table({"product-sales",
              {{"sku", ColumnType::kText}},
              {{"units_sold", ColumnType::kInteger}, {"revenue_cents", ColumnType::kInteger}}})
      .Table({"open-carts", {{"cart_id", ColumnType::kText}}, {{"items", ColumnType::kText}}})
      .On<shop::ItemAdded>(track)
      .On<shop::ItemRemoved>(track)
      .On<shop::CartCheckedOut>(sell)
      .Build();
}

}  // namespace shop_read_models
