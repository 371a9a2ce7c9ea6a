package io.spendstream.flink;

import java.io.IOException;
import java.math.BigDecimal;
import java.util.HashMap;
import java.util.Map;

import org.apache.flink.metrics.Counter;
import org.apache.flink.metrics.MetricGroup;
import org.apache.flink.table.annotation.DataTypeHint;
import org.apache.flink.table.annotation.FunctionHint;
import org.apache.flink.table.functions.FunctionContext;
import org.apache.flink.table.functions.TableFunction;
import org.apache.flink.types.Row;

/**
 * Single-object Avro cost event to the row the cost job aggregates, in Flink's own JVM.
 *
 * <p>A table function ({@code LATERAL TABLE(decode_cost_event(payload))}), not a scalar one: the
 * planner inlines a scalar call into every {@code e.field} that reads its result, which decoded
 * each event once per field read; a lateral table is evaluated once per row.
 *
 * <p>Any version of the schema reads ({@link SingleObjectReader}). Anything that does not read,
 * or whose money does not fit the job's DECIMAL(38, 18) exactly, comes back as a row whose
 * {@code error} says why: a dead letter, never a job failure.
 */
@FunctionHint(output = @DataTypeHint(DecodeCostEvent.RESULT))
public class DecodeCostEvent extends TableFunction<Row> {
  static final String RESULT =
      "ROW<error STRING, account_id STRING, service STRING, region STRING, charge_type STRING, "
          + "currency STRING, unblended_cost STRING, net_cost STRING, resource_id STRING, "
          + "line_item_type STRING, tags MAP<STRING, STRING>, usage_amount STRING, amortized_cost STRING, "
          + "instance_type STRING, pricing_term STRING, public_on_demand_rate STRING>";
  private static final int RESULT_FIELDS = 16;
  private static final int MAX_SCALE = 18;
  private static final BigDecimal MONEY_LIMIT = new BigDecimal("1E15"); // pipelines/cost_event.py MONEY_LIMIT

  private transient SingleObjectReader reader;
  private transient MetricGroup metrics;
  private transient Map<String, Counter> decoded;
  private transient Counter undecodable;

  @Override
  public void open(FunctionContext context) throws IOException {
    metrics = context.getMetricGroup().addGroup("spendstream");
    decoded = new HashMap<>();
    undecodable = metrics.counter("cost_events_undecodable");
    reader = new SingleObjectReader("cost_event");
  }

  /** Exactly one row per payload: the event's fields, or only {@code error}. */
  public void eval(byte[] payload) {
    Row row;
    try {
      Map<String, Object> event = reader.read(payload);
      row = row(event);
      decoded.computeIfAbsent(String.valueOf(event.get("source_format")), this::formatCounter).inc();
    } catch (AvroBinary.MalformedException | RuntimeException error) {
      undecodable.inc();
      row = new Row(RESULT_FIELDS);
      row.setField(0, "undecodable cost event: " + error.getMessage());
    }
    collect(row);
  }

  /** Events decoded per export format (cur2, cur1, focus, ...): a label in Prometheus. */
  private Counter formatCounter(String format) {
    return metrics.addGroup("format", format).counter("cost_events_decoded");
  }

  private static Row row(Map<String, Object> event) throws AvroBinary.MalformedException {
    return Row.of(
        null,
        text(event, "usage_account_id"),
        text(event, "service"),
        text(event, "region"),
        text(event, "charge_type"),
        text(event, "currency"),
        money(event, "unblended_cost"),
        money(event, "net_cost"),
        text(event, "resource_id"),
        text(event, "line_item_type"),
        event.get("tags"),
        optionalMoney(event, "usage_amount"),
        optionalMoney(event, "amortized_cost"),
        optional(event, "instance_type"),
        optional(event, "pricing_term"),
        optionalMoney(event, "public_on_demand_rate"));
  }

  /** A field later schema versions added (with a default): an older writer's event reads as empty. */
  private static String optional(Map<String, Object> event, String field) throws AvroBinary.MalformedException {
    return event.get(field) == null ? "" : text(event, field);
  }

  /** An optional decimal (the optimizer's quantities and rates): null when empty, else by the money rule. */
  private static String optionalMoney(Map<String, Object> event, String field) throws AvroBinary.MalformedException {
    return optional(event, field).isEmpty() ? null : money(event, field);
  }

  private static String text(Map<String, Object> event, String field) throws AvroBinary.MalformedException {
    Object value = event.get(field);
    if (!(value instanceof String)) {
      throw new AvroBinary.MalformedException("field " + field + " is missing");
    }
    return (String) value;
  }

  /**
   * Exact decimal strings only, by the rule of pipelines/cost_event.py (exact_decimal): at most 18
   * decimal places once trailing zeros are dropped, and below 1e15, as a plain (non-exponent) string.
   */
  private static String money(Map<String, Object> event, String field) throws AvroBinary.MalformedException {
    String value = text(event, field);
    BigDecimal amount;
    try {
      amount = new BigDecimal(value);
    } catch (NumberFormatException error) {
      throw new AvroBinary.MalformedException(field + " '" + value + "' is not a decimal number");
    }
    BigDecimal exact = amount.stripTrailingZeros();
    if (exact.scale() > MAX_SCALE || amount.abs().compareTo(MONEY_LIMIT) >= 0) {
      throw new AvroBinary.MalformedException(field + " " + value + " does not fit the money rule (at most 18 decimal places, below 1e15)");
    }
    return amount.toPlainString();
  }
}
