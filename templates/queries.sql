-- The named queries of `orderpipe query NAME`. Each runs unchanged on Athena (Trino) and DuckDB.
-- A block starts with `-- name:`; `-- help:` describes it; `-- params:` declares its parameters
-- with defaults (`--param k=v` overrides; values are bound, never spliced into the text).

-- name: top-orders
-- help: The largest invoices by total in USD.
-- params: limit=10
SELECT invoiceno,
       min(customerid) AS customerid,
       min(country) AS country,
       min(invoicedateonly) AS invoicedate,
       count(*) AS lines,
       sum(quantity) AS items,
       round(sum(totalamountusd), 2) AS totalusd
FROM transformed_orders
GROUP BY invoiceno
ORDER BY totalusd DESC, invoiceno
LIMIT :limit;

-- name: regional-revenue
-- help: Revenue, orders and customers per region.
SELECT region,
       count(DISTINCT invoiceno) AS invoices,
       count(DISTINCT customerid) AS customers,
       round(sum(totalamountusd), 2) AS revenueusd,
       round(100.0 * sum(totalamountusd) / (SELECT sum(totalamountusd) FROM transformed_orders), 2)
         AS revenuepct
FROM transformed_orders
GROUP BY region
ORDER BY revenueusd DESC, region;

-- name: peak-hours
-- help: Orders and revenue by hour of the day.
SELECT invoicehour AS hour,
       count(DISTINCT invoiceno) AS invoices,
       count(*) AS lines,
       round(sum(totalamountusd), 2) AS revenueusd
FROM transformed_orders
GROUP BY invoicehour
ORDER BY hour;

-- name: country-performance
-- help: Per country: revenue, average invoice value and the share of High order lines.
-- params: limit=15
SELECT country,
       region,
       count(DISTINCT invoiceno) AS invoices,
       round(sum(totalamountusd), 2) AS revenueusd,
       round(sum(totalamountusd) / count(DISTINCT invoiceno), 2) AS avginvoiceusd,
       round(100.0 * sum(CASE WHEN ordertag = 'High' THEN 1 ELSE 0 END) / count(*), 2) AS highpct
FROM transformed_orders
GROUP BY country, region
ORDER BY revenueusd DESC, country
LIMIT :limit;

-- name: missing-data
-- help: Quarantined records by reason, with an example of each.
SELECT reason,
       count(*) AS records,
       min(coalesce(invoiceno, raw_line)) AS example
FROM quarantined_orders
GROUP BY reason
ORDER BY records DESC, reason;

-- name: duplicates
-- help: Order ids held by more than one distinct record (kept on purpose), and any repeated record.
-- params: limit=20
SELECT orderid,
       min(invoiceno) AS invoiceno,
       min(stockcode) AS stockcode,
       count(*) AS rows_,
       count(DISTINCT recordid) AS distinctrecords
FROM transformed_orders
GROUP BY orderid
HAVING count(*) > 1
ORDER BY rows_ DESC, orderid
LIMIT :limit;

-- The figures of `orderpipe report` (with regional-revenue, country-performance, peak-hours,
-- missing-data and top-orders above): `query NAME` prints the numbers the page shows.

-- name: kpis
-- help: Headline figures: revenue, invoices, customers, average invoice, High lines, quarantine rate.
WITH t AS (
  SELECT sum(totalamountusd) AS revenue,
         count(DISTINCT invoiceno) AS invoices,
         count(DISTINCT customerid) AS customers,
         count(*) AS lines,
         sum(CASE WHEN ordertag = 'High' THEN 1 ELSE 0 END) AS highlines,
         min(invoicedateonly) AS firstday,
         max(invoicedateonly) AS lastday
  FROM transformed_orders
), q AS (
  SELECT count(*) AS quarantined FROM quarantined_orders
)
SELECT round(coalesce(t.revenue, 0), 2) AS revenueusd,
       t.invoices,
       t.customers,
       round(t.revenue / nullif(t.invoices, 0), 2) AS avginvoiceusd,
       t.lines,
       round(100.0 * t.highlines / nullif(t.lines, 0), 2) AS highpct,
       q.quarantined,
       round(100.0 * q.quarantined / nullif(t.lines + q.quarantined, 0), 2) AS quarantinepct,
       t.firstday,
       t.lastday
FROM t CROSS JOIN q;

-- name: daily-revenue
-- help: Revenue, invoices and customers per day.
SELECT invoicedateonly AS orderdate,
       count(DISTINCT invoiceno) AS invoices,
       count(DISTINCT customerid) AS customers,
       round(sum(totalamountusd), 2) AS revenueusd
FROM transformed_orders
GROUP BY invoicedateonly
ORDER BY orderdate;
