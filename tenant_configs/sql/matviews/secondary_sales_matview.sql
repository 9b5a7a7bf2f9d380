-- Secondary sales by month, territory and material group: invoice lines, dealers,
-- quantity and net sales (legacy schemas/matviews/01_secondary_sales_matview).
-- Refreshed after every load and every evening; StarRocks also refreshes it when
-- its base tables change.
-- refresh: ASYNC
SELECT
    CAST(date_trunc('month', f.invoice_date) AS DATE) AS sales_month,
    f.wss_territory_code,
    m.material_group,
    COUNT(*) AS invoice_lines,
    COUNT(DISTINCT f.dealer_code) AS dealers,
    SUM(f.quantity) AS quantity,
    SUM(f.net_amount) AS net_amount
FROM fact_invoice_secondary AS f
LEFT JOIN dim_material AS m ON m.material_code = f.material_code
GROUP BY CAST(date_trunc('month', f.invoice_date) AS DATE), f.wss_territory_code, m.material_group
