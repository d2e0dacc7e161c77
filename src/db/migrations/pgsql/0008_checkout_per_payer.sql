-- 0008_checkout_per_payer (PostgreSQL): an object may be paid for by many payers
-- (a priced recipe is bought by each of its buyers), so a checkout is unique
-- per (purpose, object, payer, attempt), and a recipe purchase numbers its
-- own attempts instead of sharing one sequence with every buyer of the recipe.
-- The idempotency key (payments_idem_key) stays the guard of single-payer
-- purposes, whose keys do not name the payer (payments.h, checkout_spec.per_payer).
-- Keep parallel to sqlite/0008_checkout_per_payer.sql. Owners: src/payments, src/recipes.

DROP INDEX payments_object_key;
CREATE UNIQUE INDEX payments_object_key ON payments (purpose, object_id, user_id, attempt);
DROP INDEX recipe_purchases_attempt_key;
