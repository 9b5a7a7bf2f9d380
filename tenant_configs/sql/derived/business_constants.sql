-- Business constants: for each filter dimension (material group, sales group,
-- territory), the values whose secondary net sales exceed the tenant's
-- sales_threshold, ranked by sales; dashboards offer only these in their filters
-- (legacy business_logic/business_constants.py and populate_business_constants.py).
WITH sales AS (
    SELECT m.material_group, m.sales_group_code, f.wss_territory_code, f.net_amount
    FROM fact_invoice_secondary AS f
    LEFT JOIN dim_material AS m ON m.material_code = f.material_code
),
totals AS (
    SELECT 'material_group' AS dimension, material_group AS value, SUM(net_amount) AS net_sales
    FROM sales
    WHERE material_group IS NOT NULL
    GROUP BY material_group
    UNION ALL
    SELECT 'sales_group_code' AS dimension, sales_group_code AS value, SUM(net_amount) AS net_sales
    FROM sales
    WHERE sales_group_code IS NOT NULL
    GROUP BY sales_group_code
    UNION ALL
    SELECT 'wss_territory_code' AS dimension, wss_territory_code AS value, SUM(net_amount) AS net_sales
    FROM sales
    GROUP BY wss_territory_code
)
SELECT
    dimension,
    value,
    net_sales,
    RANK() OVER (PARTITION BY dimension ORDER BY net_sales DESC) AS sales_rank
FROM totals
WHERE net_sales > ${sales_threshold}
