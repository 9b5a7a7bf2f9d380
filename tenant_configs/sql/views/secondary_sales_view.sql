-- Secondary sales (distributor to dealer) line by line, with the dealer, the
-- distributor, the material and its reporting category and business unit, and the
-- territory's place in the sales hierarchy (legacy schemas/views/01_secondary_sales_view).
SELECT
    f.invoice_date,
    f.invoice_no,
    f.line_no,
    f.customer_code,
    c.customer_name,
    f.dealer_code,
    d.dealer_name,
    f.material_code,
    m.material_description,
    f.material_type,
    m.material_group,
    r.reporting_category,
    m.sales_group_code,
    g.sales_group_name,
    b.business_unit,
    f.wss_territory_code,
    h.territory_name,
    h.area_code,
    h.region_code,
    h.zone,
    h.tsr_code,
    h.tsr_name,
    f.quantity,
    f.net_amount,
    f.tax_amount,
    f.total_amount
FROM fact_invoice_secondary AS f
LEFT JOIN dim_customer_master AS c ON c.customer_code = f.customer_code
LEFT JOIN dim_dealer_master AS d ON d.dealer_code = f.dealer_code
LEFT JOIN dim_material AS m ON m.material_code = f.material_code
LEFT JOIN ref_material_mapping AS r ON r.material_group = m.material_group
LEFT JOIN dim_sales_group AS g ON g.sales_group_code = m.sales_group_code
LEFT JOIN ref_sales_group AS b ON b.sales_group_code = m.sales_group_code
LEFT JOIN dim_hierarchy AS h ON h.wss_territory_code = f.wss_territory_code
