package io.hypervise.server.api;

import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.module.blackbird.BlackbirdModule;
import io.quarkus.jackson.ObjectMapperCustomizer;
import jakarta.inject.Singleton;

/**
 * Answers are written through accessors Jackson's Blackbird module generates (LambdaMetafactory) rather
 * than by reflection, which a profile of the VM list showed as the largest cost of writing its JSON
 * (bench/README.md "api").
 */
@Singleton
public class JacksonSpeed implements ObjectMapperCustomizer {

    @Override
    public void customize(ObjectMapper mapper) {
        mapper.registerModule(new BlackbirdModule());
    }
}
