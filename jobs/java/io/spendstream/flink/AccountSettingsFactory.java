package io.spendstream.flink;

import java.util.HashSet;
import java.util.Map;
import java.util.Properties;
import java.util.Set;

import org.apache.flink.configuration.ConfigOption;
import org.apache.flink.configuration.ConfigOptions;
import org.apache.flink.table.connector.source.DynamicTableSource;
import org.apache.flink.table.factories.DynamicTableSourceFactory;
import org.apache.flink.table.factories.FactoryUtil;

/**
 * {@code 'connector' = 'spendstream-account-settings'}: the account settings topic as a lookup table.
 *
 * <p>Business context changes while the job runs (the API's mutations write it to a compacted
 * topic). The cost job joins every event to its account's current settings with a lookup join
 * ({@code FOR SYSTEM_TIME AS OF} the event's processing time): a one-input operator, so the
 * settings source can be idle for weeks without holding back event time, and a backfill of last
 * year's bill is enriched with today's settings, as a person changing them expects. Options:
 * {@code topic} and the Kafka client's {@code properties.*}, as the Kafka connector takes them.
 */
public class AccountSettingsFactory implements DynamicTableSourceFactory {
  static final String IDENTIFIER = "spendstream-account-settings";
  static final ConfigOption<String> TOPIC = ConfigOptions.key("topic").stringType().noDefaultValue();
  private static final String PROPERTIES = "properties.";

  @Override
  public String factoryIdentifier() {
    return IDENTIFIER;
  }

  @Override
  public Set<ConfigOption<?>> requiredOptions() {
    Set<ConfigOption<?>> options = new HashSet<>();
    options.add(TOPIC);
    return options;
  }

  @Override
  public Set<ConfigOption<?>> optionalOptions() {
    return new HashSet<>();
  }

  @Override
  public DynamicTableSource createDynamicTableSource(Context context) {
    FactoryUtil.TableFactoryHelper helper = FactoryUtil.createTableFactoryHelper(this, context);
    helper.validateExcept(PROPERTIES);
    Properties kafka = new Properties();
    for (Map.Entry<String, String> option : context.getCatalogTable().getOptions().entrySet()) {
      if (option.getKey().startsWith(PROPERTIES)) {
        kafka.setProperty(option.getKey().substring(PROPERTIES.length()), option.getValue());
      }
    }
    return new AccountSettingsSource(
        helper.getOptions().get(TOPIC), kafka, context.getPhysicalRowDataType());
  }
}
