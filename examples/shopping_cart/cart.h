// The shopping cart domain, in the decider style of sluice/core/decider.h: a cart collects items
// until it is checked out, after which it is an order and no longer changes.
//
// Nothing here does I/O: main.cc runs these functions through a command bus and an
// AggregateService on RocksDB, and shopping_cart_test.cc tests them with given/when/then.
#pragma once

#include <cereal/types/map.hpp>
#include <cereal/types/string.hpp>
#include <cstdint>
#include <map>
#include <string>
#include <string_view>
#include <variant>

#include "sluice/core/decider.h"
#include "sluice/core/event_type_registry.h"
#include "sluice/core/status.h"

namespace shop {

// ---------------------------------------------------------------------------------------------
// Events, registered under versioned type names (see RegisterEvents).

struct ItemAdded {
  std::string sku;
  std::int64_t quantity = 0;
  std::int64_t unit_price_cents = 0;

  template <class Archive>
  void serialize(Archive& ar) {
    ar(CEREAL_NVP(sku), CEREAL_NVP(quantity), CEREAL_NVP(unit_price_cents));
  }
  friend bool operator==(const ItemAdded&, const ItemAdded&) = default;
};

// The whole line goes: every unit of the item.
struct ItemRemoved {
  std::string sku;

  template <class Archive>
  void serialize(Archive& ar) {
    ar(CEREAL_NVP(sku));
  }
  friend bool operator==(const ItemRemoved&, const ItemRemoved&) = default;
};

// The cart became an order. The total is recorded as decided, so later price rules cannot change
// what the customer was charged.
struct CartCheckedOut {
  std::int64_t item_count = 0;
  std::int64_t total_cents = 0;

  template <class Archive>
  void serialize(Archive& ar) {
    ar(CEREAL_NVP(item_count), CEREAL_NVP(total_cents));
  }
  friend bool operator==(const CartCheckedOut&, const CartCheckedOut&) = default;
};

inline sluice::Status RegisterEvents(sluice::EventTypeRegistry& registry) {
  SLUICE_RETURN_IF_ERROR(registry.Register<ItemAdded>("shop.ItemAdded.v1"));
  SLUICE_RETURN_IF_ERROR(registry.Register<ItemRemoved>("shop.ItemRemoved.v1"));
  SLUICE_RETURN_IF_ERROR(registry.Register<CartCheckedOut>("shop.CartCheckedOut.v1"));
  return sluice::Status::Ok();
}

// ---------------------------------------------------------------------------------------------
// The aggregate.

struct Cart {
  struct Line {
    std::int64_t quantity = 0;
    std::int64_t unit_price_cents = 0;
  };
  struct State {
    std::map<std::string, Line> lines;  // by SKU
    bool checked_out = false;
  };

  using Event = std::variant<ItemAdded, ItemRemoved, CartCheckedOut>;

  // Adding an item already in the cart adds to its quantity at the latest price.
  static State Evolve(State state, const Event& event) {
    if (const auto* added = std::get_if<ItemAdded>(&event)) {
      Line& line = state.lines[added->sku];
      line.quantity += added->quantity;
      line.unit_price_cents = added->unit_price_cents;
    } else if (const auto* removed = std::get_if<ItemRemoved>(&event)) {
      state.lines.erase(removed->sku);
    } else if (std::holds_alternative<CartCheckedOut>(event)) {
      state.checked_out = true;
    }
    return state;
  }
};

// ---------------------------------------------------------------------------------------------
// Commands. Each names its cart; the stream is CartStream(cart_id).

struct AddItem {
  static constexpr std::string_view kCommandName = "shop.AddItem";
  std::string cart_id;
  std::string sku;
  std::int64_t quantity = 1;
  std::int64_t unit_price_cents = 0;
};

struct RemoveItem {
  static constexpr std::string_view kCommandName = "shop.RemoveItem";
  std::string cart_id;
  std::string sku;
};

struct CheckOut {
  static constexpr std::string_view kCommandName = "shop.CheckOut";
  std::string cart_id;
};

inline std::string CartStream(const std::string& cart_id) { return "cart-" + cart_id; }

// ---------------------------------------------------------------------------------------------
// Decide functions.

using Decision = sluice::Decision<Cart::Event>;

inline Decision DecideAddItem(const Cart::State& cart, const AddItem& command) {
  if (cart.checked_out) return sluice::Reject("cart is checked out");
  if (command.sku.empty()) return sluice::Reject("an item needs a SKU");
  if (command.quantity <= 0) return sluice::Reject("quantity must be positive");
  if (command.unit_price_cents < 0) return sluice::Reject("price must not be negative");
  return sluice::Emit<Cart::Event>(
      ItemAdded{command.sku, command.quantity, command.unit_price_cents});
}

inline Decision DecideRemoveItem(const Cart::State& cart, const RemoveItem& command) {
  if (cart.checked_out) return sluice::Reject("cart is checked out");
  if (!cart.lines.contains(command.sku)) {
    return sluice::Reject("no " + command.sku + " in the cart");
  }
  return sluice::Emit<Cart::Event>(ItemRemoved{command.sku});
}

inline Decision DecideCheckOut(const Cart::State& cart, const CheckOut&) {
  if (cart.checked_out) return sluice::Reject("cart is checked out");
  if (cart.lines.empty()) return sluice::Reject("cart is empty");
  CartCheckedOut order;
  for (const auto& [sku, line] : cart.lines) {
    order.item_count += line.quantity;
    order.total_cents += line.quantity * line.unit_price_cents;
  }
  return sluice::Emit<Cart::Event>(order);
}

}  // namespace shop
