package io.spendstream.flink;

import java.util.List;
import java.util.Properties;

import org.apache.flink.table.api.ValidationException;
import org.apache.flink.table.connector.source.DynamicTableSource;
import org.apache.flink.table.connector.source.LookupTableSource;
import org.apache.flink.table.connector.source.lookup.LookupFunctionProvider;
import org.apache.flink.table.types.DataType;
import org.apache.flink.table.types.logical.RowType;

/** The lookup side of the account settings table: looked up by {@code account_id} only. */
final class AccountSettingsSource implements LookupTableSource {
  private final String topic;
  private final Properties kafka;
  private final DataType rowType;

  AccountSettingsSource(String topic, Properties kafka, DataType rowType) {
    this.topic = topic;
    this.kafka = kafka;
    this.rowType = rowType;
  }

  @Override
  public LookupRuntimeProvider getLookupRuntimeProvider(LookupContext context) {
    List<String> columns = ((RowType) rowType.getLogicalType()).getFieldNames();
    int[][] keys = context.getKeys();
    if (keys.length != 1 || keys[0].length != 1 || !columns.get(keys[0][0]).equals("account_id")) {
      throw new ValidationException("account settings are looked up by account_id alone");
    }
    return LookupFunctionProvider.of(new AccountSettingsLookup(topic, kafka, columns));
  }

  @Override
  public DynamicTableSource copy() {
    return new AccountSettingsSource(topic, kafka, rowType);
  }

  @Override
  public String asSummaryString() {
    return "account settings of " + topic;
  }
}
