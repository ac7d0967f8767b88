"""An online shop as its team wrote it before sharding: mongoengine models and the code that uses them.

Nothing here knows about shards.  The walkthrough (README.md beside this
file) audits what this code asks of the database, simulates candidate keys
on data shaped like the shop's, asks ``advise``, and ends with ``models.py``:
the same collections with a declared key.
"""

from __future__ import annotations

import datetime

from mongoengine import (
    DateTimeField,
    Document,
    EmbeddedDocument,
    EmbeddedDocumentField,
    IntField,
    ListField,
    StringField,
)


class Buyer(EmbeddedDocument):
    """Who placed an order, copied into it so that an order page needs one read."""

    customer_id = IntField(db_field="cid", required=True)
    name = StringField()


class Line(EmbeddedDocument):
    sku = StringField(required=True)
    quantity = IntField(min_value=1, default=1)


class OrderFields(Document):
    """The fields of an order, shared by the unsharded and the sharded declaration."""

    buyer = EmbeddedDocumentField(Buyer, required=True)
    number = IntField(required=True)  # the buyer's 1st, 2nd, ... order
    status = StringField(choices=("placed", "paid", "shipped"), default="placed")
    placed_at = DateTimeField(default=lambda: datetime.datetime.now(datetime.UTC))
    lines = ListField(EmbeddedDocumentField(Line))
    meta = {"abstract": True}


class Order(OrderFields):
    meta = {"collection": "orders", "indexes": [{"fields": ["buyer.customer_id", "number"], "unique": True}, "placed_at"]}


class Customer(Document):
    customer_id = IntField(required=True, unique=True)
    email = StringField(required=True, unique=True)
    name = StringField()
    meta = {"collection": "customers"}


# What the shop does with them (the workload that 'audit' records) ----------------------------


def place_order(order_class: type, customer: Customer, skus: list[str]) -> Document:
    number = order_class.objects(buyer__customer_id=customer.customer_id).count() + 1
    return order_class(buyer=Buyer(customer_id=customer.customer_id, name=customer.name), number=number,
                       lines=[Line(sku=sku) for sku in skus]).save()


def order_history(order_class: type, customer_id: int) -> list[Document]:
    return list(order_class.objects(buyer__customer_id=customer_id).order_by("-number"))


def mark_paid(order_class: type, customer_id: int, number: int) -> None:
    order = order_class.objects.get(buyer__customer_id=customer_id, number=number)
    order.status = "paid"
    order.save()


def orders_to_ship(order_class: type) -> list[Document]:
    return list(order_class.objects(status="paid"))


def run_workload(order_class: type, customers: int = 20, rounds: int = 3) -> None:
    """A day of the shop in miniature: sign-ups, orders, order pages, payments, the warehouse's list."""
    for customer_id in range(1, customers + 1):
        Customer.objects(customer_id=customer_id).update_one(
            set__email=f"c{customer_id}@example.com", set__name=f"Customer {customer_id}", upsert=True)
    for _ in range(rounds):
        for customer in Customer.objects:
            order = place_order(order_class, customer, ["sku-1", "sku-2"])
            order_history(order_class, customer.customer_id)
            mark_paid(order_class, customer.customer_id, order.number)
        orders_to_ship(order_class)
