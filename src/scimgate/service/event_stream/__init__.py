"""Events: recorded in the transaction that makes a change, published or held back, read by
apps, and delivered to webhook endpoints by the worker."""
