-- Primary sales (company to distributor) line by line, with the distributor and its
-- territory, the material under the code it is reported as (brand, category) and its
-- business unit (legacy schemas/views/02_primary_sales_view).
SELECT
    f.invoice_date,
    f.invoice_no,
    f.line_no,
    f.billing_type,
    f.plant_code,
    f.customer_code,
    c.customer_name,
    c.channel,
    c.wss_territory_code,
    h.area_code,
    h.region_code,
    h.zone,
    f.material_code,
    COALESCE(mm.mapped_material_code, f.material_code) AS reporting_material_code,
    mm.brand,
    mm.category,
    m.material_group,
    m.sales_group_code,
    b.business_unit,
    f.quantity,
    f.gross_amount,
    f.discount_amount,
    f.net_amount,
    f.tax_amount,
    f.net_amount_incl_tax
FROM fact_invoice_details AS f
LEFT JOIN dim_customer_master AS c ON c.customer_code = f.customer_code
LEFT JOIN dim_hierarchy AS h ON h.wss_territory_code = c.wss_territory_code
LEFT JOIN dim_material AS m ON m.material_code = f.material_code
LEFT JOIN dim_material_mapping AS mm ON mm.material_code = f.material_code
LEFT JOIN ref_sales_group AS b ON b.sales_group_code = m.sales_group_code
